// server/daemon.hpp — `mailkeep serve`: binds the listeners, drops privileges, runs the sessions,
// drains on SIGTERM and reloads on SIGHUP.
#pragma once

#include <filesystem>
#include <optional>

#include "core/config.hpp"

namespace mk {

// serve - run until SIGTERM/SIGINT; returns the process exit code.
int serve(std::shared_ptr<Config> config);

// How long SIGTERM lets sessions in the middle of something finish before closing them.
constexpr std::chrono::seconds kDrainTimeout{20};

}  // namespace mk
