// core/ids.hpp — queue ids: unique, sortable by time, safe as file names and in headers.
#pragma once

#include <string>

namespace mk {

// new_queue_id - 16 upper-case hex digits: 9 of microseconds since the epoch (wrapping every ~2
// years, enough for ordering within a queue's life) and 7 random.
std::string new_queue_id();

}  // namespace mk
