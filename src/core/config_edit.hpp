// core/config_edit.hpp — changes to mailkeep.toml made by the admin's CLI; text is appended, never regenerated.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace mk {

// add_user_to_file - check user against the file, then append its [[user]] block atomically, so
// that comments and layout survive. Returns the problems found; empty = the file now has the user.
std::vector<ConfigError> add_user_to_file(const std::filesystem::path& file, const UserConfig& user);

// user_block - the TOML text of one [[user]] block, ending in a newline.
std::string user_block(const UserConfig& user);

}  // namespace mk
