// core/date.cpp — date formatting without the C locale's help (strftime names follow LC_TIME).
#include "core/date.hpp"

#include <cctype>
#include <cstdio>
#include <string>

#include "core/text.hpp"

namespace mk {

namespace {

constexpr const char* kMonthNames[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

// Tokens - the value's words with comments and folding removed: "Tue, 5 Mar 2024 (x) 10:00 +0100"
// gives Tue 5 Mar 2024 10:00 +0100 (the comma and ':' stay inside their words).
class Tokens {
public:
    explicit Tokens(std::string_view v) : v_(v) {}
    std::string_view next() {
        for (;;) {
            while (i_ < v_.size() && (v_[i_] == ' ' || v_[i_] == '\t' || v_[i_] == '\r' || v_[i_] == '\n' || v_[i_] == ','))
                ++i_;
            if (i_ < v_.size() && v_[i_] == '(') {
                int depth = 0;
                for (; i_ < v_.size(); ++i_) {
                    if (v_[i_] == '(') ++depth;
                    else if (v_[i_] == ')' && --depth == 0) break;
                    else if (v_[i_] == '\\') ++i_;
                }
                ++i_;
                continue;
            }
            break;
        }
        std::size_t start = i_;
        while (i_ < v_.size() && v_[i_] != ' ' && v_[i_] != '\t' && v_[i_] != '\r' && v_[i_] != '\n' && v_[i_] != ',' &&
               v_[i_] != '(')
            ++i_;
        return v_.substr(start, i_ - start);
    }

private:
    std::string_view v_;
    std::size_t i_ = 0;
};

std::optional<int> number(std::string_view s, std::size_t max_digits) {
    if (s.empty() || s.size() > max_digits) return std::nullopt;
    int n = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return std::nullopt;
        n = n * 10 + (c - '0');
    }
    return n;
}

// zone_minutes - "+0100", "-0530", or an obsolete name (RFC 5322 4.3); military zones count as 0.
std::optional<int> zone_minutes(std::string_view z) {
    if (z.size() == 5 && (z[0] == '+' || z[0] == '-')) {
        auto n = number(z.substr(1), 4);
        if (!n) return std::nullopt;
        int m = (*n / 100) * 60 + *n % 100;
        return z[0] == '-' ? -m : m;
    }
    struct Named {
        const char* name;
        int hours;
    };
    static constexpr Named kNamed[] = {{"UT", 0},   {"GMT", 0},  {"Z", 0},    {"EST", -5}, {"EDT", -4},
                                       {"CST", -6}, {"CDT", -5}, {"MST", -7}, {"MDT", -6}, {"PST", -8},
                                       {"PDT", -7}};
    for (const Named& n : kNamed)
        if (iequals(z, n.name)) return n.hours * 60;
    if (z.size() == 1 && std::isalpha(static_cast<unsigned char>(z[0]))) return 0;
    return std::nullopt;
}

}  // namespace

int days_from_civil(int y, unsigned m, unsigned d) {
    // H. Hinnant's algorithm: days since 1970-01-01 of a proleptic Gregorian date.
    y -= m <= 2;
    const int era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = static_cast<unsigned>(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + static_cast<int>(doe) - 719468;
}

namespace {

// A Date: value as written: its day, the time of day and the zone's offset.
struct WrittenDate {
    std::int64_t days = 0;   // since 1970-01-01, of the date as written
    int seconds = 0;         // into that day
    int zone = 0;            // minutes east of UTC
};

std::optional<WrittenDate> parse_written(std::string_view value) {
    Tokens t(value);
    std::string_view w = t.next();
    if (!w.empty() && std::isalpha(static_cast<unsigned char>(w[0]))) w = t.next();   // the day name
    auto day = number(w, 2);
    std::string_view mon = t.next();
    int month = -1;
    for (int m = 0; m < 12; ++m)
        if (mon.size() >= 3 && iequals(mon.substr(0, 3), kMonthNames[m])) month = m;
    auto year = number(t.next(), 4);
    if (!day || month < 0 || !year || *day < 1 || *day > 31) return std::nullopt;
    int y = *year;
    if (y < 50) y += 2000;        // RFC 5322 4.3: two-digit years
    else if (y < 1000) y += 1900;
    std::string_view time = t.next();
    int hh = 0, mm = 0, ss = 0;
    auto c1 = time.find(':');
    if (c1 == std::string_view::npos) return std::nullopt;
    auto c2 = time.find(':', c1 + 1);
    auto h = number(time.substr(0, c1), 2);
    auto m = number(time.substr(c1 + 1, c2 == std::string_view::npos ? std::string_view::npos : c2 - c1 - 1), 2);
    std::optional<int> s = c2 == std::string_view::npos ? std::optional<int>(0) : number(time.substr(c2 + 1), 2);
    if (!h || !m || !s || *h > 23 || *m > 59 || *s > 60) return std::nullopt;
    hh = *h;
    mm = *m;
    ss = *s;
    std::optional<int> zone = zone_minutes(t.next());
    if (!zone) zone = 0;   // RFC 5322 4.3: an unknown zone is taken as UTC ("-0000")
    return WrittenDate{days_from_civil(y, static_cast<unsigned>(month + 1), static_cast<unsigned>(*day)),
                       hh * 3600 + mm * 60 + ss, *zone};
}

}  // namespace

std::optional<std::time_t> parse_rfc5322_date(std::string_view value) {
    std::optional<WrittenDate> d = parse_written(value);
    if (!d) return std::nullopt;
    return static_cast<std::time_t>(d->days * 86400 + d->seconds - d->zone * 60);
}

std::optional<int> rfc5322_day(std::string_view value) {
    std::optional<WrittenDate> d = parse_written(value);
    if (!d) return std::nullopt;
    return static_cast<int>(d->days);
}

std::string imap_date_time(std::time_t t) {
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[40];
    std::snprintf(buf, sizeof buf, "%02d-%s-%04d %02d:%02d:%02d +0000", tm.tm_mday, kMonthNames[tm.tm_mon],
                  tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

std::string rfc5322_date(std::time_t t) {
    static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                              "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d +0000", kDays[tm.tm_wday], tm.tm_mday,
                  kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
    return buf;
}

}  // namespace mk
