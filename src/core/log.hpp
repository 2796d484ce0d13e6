// core/log.hpp — logging set-up: one line per event to stderr, Postfix-like "id: what" messages.
#pragma once

namespace mk {

// init_logging - stderr sink with a timestamp; verbose lowers the level to debug.
void init_logging(bool verbose);

}  // namespace mk
