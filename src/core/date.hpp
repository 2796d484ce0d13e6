// core/date.hpp — RFC 5322 3.3 dates for Received:, Date: and DSN fields.
#pragma once

#include <ctime>
#include <string>

namespace mk {

// rfc5322_date - t as an RFC 5322 date-time in UTC, with English names whatever the locale.
std::string rfc5322_date(std::time_t t);

}  // namespace mk
