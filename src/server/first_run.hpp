// server/first_run.hpp — `mailkeep serve` without a config: make a working installation in data_dir.
#pragma once

#include <filesystem>
#include <memory>

#include "core/config.hpp"

namespace mk {

// prepare_data_dir - load data_dir/mailkeep.toml, creating it first (with a self-signed
// certificate and the postmaster user, whose password is printed once) when it does not exist.
// Returns the loaded config or throws std::runtime_error with every config error.
std::shared_ptr<Config> prepare_data_dir(const std::filesystem::path& data_dir);

}  // namespace mk
