// tests/unit/temp_dir.hpp — a private directory under /tmp for one test, removed with all it holds.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace mk::test {

struct TempDir {
    std::filesystem::path path;
    explicit TempDir(const std::string& tag = "unit") {
        std::string tmpl = "/tmp/mk-" + tag + "-XXXXXX";
        path = ::mkdtemp(tmpl.data());
    }
    ~TempDir() { std::filesystem::remove_all(path); }
    TempDir(const TempDir&) = delete;
    TempDir& operator=(const TempDir&) = delete;
};

}  // namespace mk::test
