// tests/unit/config_errors.hpp — the check the config tests make of a case that must fail: exactly one
// error, in this file, on this line, saying this.
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "core/config.hpp"

namespace mk {

// expect_one_error - r refused the config with one error at line whose text holds what; text names the
// case in failure messages.
inline void expect_one_error(const ConfigResult& r, std::string_view file, std::size_t line, std::string_view what,
                             std::string_view text) {
    EXPECT_FALSE(r.config) << text;
    ASSERT_EQ(r.errors.size(), 1u) << text << (r.errors.empty() ? "" : r.errors[0].to_string() + " / " +
                                                   r.errors.back().to_string());
    const ConfigError& e = r.errors[0];
    EXPECT_EQ(e.file, file);
    EXPECT_EQ(e.line, line) << text << e.to_string();
    EXPECT_NE(e.what.find(what), std::string::npos) << text << e.to_string();
}

}  // namespace mk
