// core/date.hpp — RFC 5322 3.3 dates for Received:, Date: and DSN fields.
#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

namespace mk {

// rfc5322_date - t as an RFC 5322 date-time in UTC, with English names whatever the locale.
std::string rfc5322_date(std::time_t t);

// parse_rfc5322_date - a Date: header's value (RFC 5322 3.3, with the obsolete forms of 4.3: two-digit
// years, named zones, no seconds; comments skipped) as unix seconds; nullopt when it is none.
std::optional<std::time_t> parse_rfc5322_date(std::string_view value);
// rfc5322_day - the day of a Date: value as written, its time and zone disregarded (IMAP's SENTON,
// RFC 3501 6.4.4), as days since 1970-01-01; nullopt when it is none.
std::optional<int> rfc5322_day(std::string_view value);

// imap_date_time - t as IMAP's date-time (RFC 9051 9: "05-Mar-2024 09:00:00 +0000"), UTC.
std::string imap_date_time(std::time_t t);

// days_from_civil - days since 1970-01-01 of a proleptic Gregorian date (month 1-12).
int days_from_civil(int year, unsigned month, unsigned day);

}  // namespace mk
