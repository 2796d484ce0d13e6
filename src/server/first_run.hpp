// server/first_run.hpp — `mailkeep serve` without a config: make a working installation in data_dir.
#pragma once

#include <filesystem>

namespace mk {

// prepare_data_dir - data_dir/mailkeep.toml, created first (with a self-signed certificate and the
// postmaster user, whose password is printed once) when it does not exist; throws on failure.
std::filesystem::path prepare_data_dir(const std::filesystem::path& data_dir);

}  // namespace mk
