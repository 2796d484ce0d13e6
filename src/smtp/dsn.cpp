// smtp/dsn.cpp — DSN messages (RFC 3464 in RFC 6522 multipart/report) from queue state; the remote replies
// quoted in them come from untrusted servers, so every value is made one safe line before it is written.
#include "smtp/dsn.hpp"

#include "core/date.hpp"
#include "smtp/message_text.hpp"

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <ctime>

namespace mk::smtp {

namespace {

constexpr std::string_view kIndent = "    ";   // continuation lines of a recipient in the text part

// What the human-readable part says for the enhanced status codes a relay meets most (RFC 3463).
struct StatusText {
    std::string_view subject_detail;   // "1.1" of "5.1.1": the class is said by the section
    std::string_view text;
};
constexpr StatusText kStatusTexts[] = {
    {"1.1", "the mailbox does not exist"},                       // RFC 3463 X.1.1
    {"1.2", "the recipient's domain does not exist or takes no mail"},   // X.1.2
    {"1.3", "the address is not valid"},                          // X.1.3
    {"1.6", "the mailbox has moved"},                             // X.1.6
    {"2.1", "the mailbox is disabled"},                           // X.2.1
    {"2.2", "the mailbox is full"},                               // X.2.2
    {"2.3", "the message is larger than the mailbox accepts"},    // X.2.3
    {"3.4", "the message is too large for the receiving system"}, // X.3.4
    {"4.1", "the receiving server did not answer"},               // X.4.1
    {"4.2", "the connection to the receiving server failed"},     // X.4.2
    {"4.4", "no server was found to deliver to"},                 // X.4.4
    {"4.7", "the message waited too long and expired"},           // X.4.7
    {"5.3", "there were too many recipients"},                    // X.5.3
    {"7.1", "the receiving server refused the message"},          // X.7.1
};

enum class Kind { failure, delay, success };

// typed - value as "type;value" (RFC 3464 2.3.5, 2.3.6); a value given without a type gets type.
std::string typed(std::string_view type, std::string_view value) {
    std::size_t semi = value.find(';');
    bool has_type = semi != std::string_view::npos && semi > 0 &&
                    std::all_of(value.begin(), value.begin() + static_cast<std::ptrdiff_t>(semi), [](char c) {
                        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
                    });
    return has_type ? std::string(value) : std::string(type) + ";" + std::string(value);
}

// untyped - the value of a "type;value" field, for people.
std::string untyped(std::string_view value) {
    std::string t = typed("x", value);
    return one_line(std::string_view(t).substr(t.find(';') + 1));
}

// kind_of - what the report is about, for its subject: a failure outweighs a delay, a delay a success.
Kind kind_of(const DsnInput& in) {
    auto any = [&](std::string_view action) {
        return std::any_of(in.recipients.begin(), in.recipients.end(),
                           [&](const DsnRecipient& r) { return r.action == action; });
    };
    if (any("failed")) return Kind::failure;
    if (any("delayed")) return Kind::delay;
    return Kind::success;
}

// status_text - "5.1.1 (the mailbox does not exist)", or the code alone when it has no text here or
// reports success (the texts describe problems).
std::string status_text(std::string_view status) {
    if (!status.starts_with('4') && !status.starts_with('5')) return std::string(status);
    std::string_view detail = status.size() > 2 ? status.substr(2) : std::string_view();
    for (const StatusText& s : kStatusTexts)
        if (s.subject_detail == detail) return std::string(status) + " (" + std::string(s.text) + ")";
    return std::string(status);
}

// fnv1a - 64-bit FNV-1a of s, continuing from h: makes the Message-ID unique without a clock or RNG.
std::uint64_t fnv1a(std::string_view s, std::uint64_t h = 0xcbf29ce484222325ull) {
    for (char c : s) {
        h ^= static_cast<unsigned char>(c);
        h *= 0x100000001b3ull;
    }
    return h;
}

// recipient_text - one recipient in the human-readable part.
std::string recipient_text(const DsnRecipient& r) {
    std::string out = wrap("  ", "<" + r.address + ">", kIndent);
    if (!r.orcpt.empty()) {
        std::string original = xtext_decode(untyped(r.orcpt));
        if (original != r.address) out += wrap(kIndent, "(originally sent to <" + original + ">)", kIndent);
    }
    std::string remote = r.remote_mta.empty() ? std::string() : untyped(r.remote_mta);
    if (!r.diagnostic.empty())
        out += wrap(kIndent, (remote.empty() ? "Reason: " : "The server " + remote + " said: ") + untyped(r.diagnostic),
                    kIndent);
    else if (!remote.empty())
        out += wrap(kIndent, "Server: " + remote, kIndent);
    if (r.action == "relayed")
        out += wrap(kIndent, "It was passed on to a system that does not report delivery.", kIndent);
    else if (r.action == "expanded")
        out += wrap(kIndent, "It was delivered and forwarded to further recipients.", kIndent);
    if (r.action == "delayed" && r.will_retry_until != 0)
        out += wrap(kIndent, "The mail system keeps trying until " + rfc5322_date(r.will_retry_until) + ".", kIndent);
    out += wrap(kIndent, "Status: " + status_text(r.status), kIndent);
    return out;
}

// human_text - part 1: what happened, for the sender, in plain words; recipients grouped by outcome.
std::string human_text(const DsnInput& in) {
    struct Group {
        bool (*member)(const DsnRecipient&);
        std::string_view intro;
    };
    static constexpr Group kGroups[] = {
        {[](const DsnRecipient& r) { return r.action == "failed"; },
         "Your message could not be delivered to the recipients below. The mail system has stopped "
         "trying; the reason is shown with each of them."},
        {[](const DsnRecipient& r) { return r.action == "delayed"; },
         "Your message has not been delivered yet to the recipients below. This is only a warning: the "
         "mail system keeps trying, and you do not need to send the message again. You will be told if "
         "it gives up."},
        {[](const DsnRecipient& r) { return r.action != "failed" && r.action != "delayed"; },
         "Your message was delivered to the recipients below, as you asked to be told."},
    };
    std::string out = wrap("", "This is the mail system at " + in.reporting_mta + ".", "");
    for (const Group& g : kGroups) {
        if (std::none_of(in.recipients.begin(), in.recipients.end(), g.member)) continue;
        out.append(kCrlf);
        out += wrap("", g.intro, "");
        for (const DsnRecipient& r : in.recipients) {
            if (!g.member(r)) continue;
            out.append(kCrlf);   // an empty line before each recipient
            out += recipient_text(r);
        }
    }
    out.append(kCrlf);
    out += wrap("", in.headers_only ? "The header of your message is attached below."
                                    : "Your message is attached below.", "");
    out += wrap("", "If you need help, write to <" + in.postmaster + "> and include this report" +
                        (in.queue_id.empty() ? std::string(".") : " (queue id " + in.queue_id + ")."), "");
    return out;
}

// status_fields - part 2: the message/delivery-status body (RFC 3464 2.1): the per-message fields, then
// one block per recipient, each after an empty line. Fields in the order of the RFC 3464 2.2 and 2.3
// grammar, extension fields (X-) last.
std::string status_fields(const DsnInput& in) {
    std::string out;
    if (!in.envid.empty()) out += field("Original-Envelope-Id", in.envid);   // xtext as received, RFC 3464 2.2.1
    out += field("Reporting-MTA", "dns;" + in.reporting_mta);               // RFC 3464 2.2.2
    if (in.arrival != 0) out += field("Arrival-Date", rfc5322_date(in.arrival));   // RFC 3464 2.2.5
    if (!in.queue_id.empty()) out += field("X-Mailkeep-Queue-ID", in.queue_id);
    for (const DsnRecipient& r : in.recipients) {
        out.append(kCrlf);
        if (!r.orcpt.empty()) out += field("Original-Recipient", r.orcpt);     // 2.3.1, as received
        // RFC 6533 3: an address with UTF-8 is of type utf-8 (the part is then global-delivery-status).
        out += field("Final-Recipient", (has_8bit(r.address) ? "utf-8;" : "rfc822;") + r.address);   // 2.3.2
        out += field("Action", r.action);                                     // 2.3.3
        out += field("Status", r.status);                                     // 2.3.4
        if (!r.remote_mta.empty()) out += field("Remote-MTA", typed("dns", r.remote_mta));   // 2.3.5
        if (!r.diagnostic.empty()) out += field("Diagnostic-Code", typed("smtp", r.diagnostic));   // 2.3.6
        if (r.last_attempt != 0) out += field("Last-Attempt-Date", rfc5322_date(r.last_attempt));   // 2.3.7
        if (r.action == "delayed" && r.will_retry_until != 0)
            out += field("Will-Retry-Until", rfc5322_date(r.will_retry_until));   // 2.3.9: delayed only
    }
    return out;
}

}  // namespace

std::string xtext_decode(std::string_view s) {
    auto hex = [](char c) -> int {   // RFC 3461 4: two upper-case hexadecimal digits
        if (c >= '0' && c <= '9') return c - '0';
        if (c >= 'A' && c <= 'F') return c - 'A' + 10;
        return -1;
    };
    std::string out;
    out.reserve(s.size());
    for (std::size_t i = 0; i < s.size(); ++i) {
        auto c = static_cast<unsigned char>(s[i]);
        if (c == '+') {
            if (i + 2 >= s.size()) return std::string(s);   // "+" needs two digits after it
            int hi = hex(s[i + 1]), lo = hex(s[i + 2]);
            if (hi < 0 || lo < 0) return std::string(s);
            auto decoded = static_cast<unsigned char>(hi * 16 + lo);
            if (is_ctl(decoded)) return std::string(s);   // shown to people: no control may come out
            out += static_cast<char>(decoded);
            i += 2;
        } else if (c < '!' || c > '~' || c == '=') {   // RFC 3461 4: xchar is "!".."~" except "+" and "="
            return std::string(s);
        } else {
            out += static_cast<char>(c);
        }
    }
    return out;
}

std::string build_dsn(const DsnInput& in) {
    Kind kind = kind_of(in);
    std::string text = human_text(in);
    std::string status = status_fields(in);
    std::string_view returned = in.headers_only ? header_block(in.original) : in.original;
    std::string boundary = unique_boundary(in.boundary, "=_mailkeep-dsn-" + in.queue_id + "-" + std::to_string(in.now),
                                           {text, status, returned});

    static constexpr std::string_view kSubjects[] = {"Undelivered Mail Returned to Sender",
                                                     "Delayed Mail (still being retried)",
                                                     "Successful Mail Delivery Report"};
    static constexpr std::string_view kReturned[] = {"Undelivered Message", "Delayed Message", "Delivered Message"};
    static constexpr char kKindTag[] = {'F', 'D', 'S'};
    auto k = static_cast<std::size_t>(kind);

    // A Message-ID unique per report: the queue id, the time, and a hash of what the report says.
    std::uint64_t h = fnv1a(boundary);
    for (const DsnRecipient& r : in.recipients) h = fnv1a(r.address + "\n" + r.action + "\n" + r.status + "\n", h);
    char hash[17];
    std::snprintf(hash, sizeof hash, "%016llx", static_cast<unsigned long long>(h));
    std::string queue = boundary_chars(in.queue_id);
    std::erase_if(queue, [](char c) { return std::string_view("'(),:").find(c) != std::string_view::npos; });   // not atext
    std::string message_id = "<dsn." + std::to_string(in.now) + "." + (queue.empty() ? "" : queue + ".") +
                             kKindTag[k] + hash + "@" + in.reporting_mta + ">";

    std::string out;
    out += field("From", "Mail Delivery System <" + in.postmaster + ">");
    out += field("To", "<" + in.to + ">");
    out += field("Subject", kSubjects[k]);
    out += field("Date", rfc5322_date(in.now));
    out += field("Message-ID", message_id);
    out += field("Auto-Submitted", "auto-replied");   // RFC 3834 5: no automatic reply to this
    out += field("MIME-Version", "1.0");
    out += field("Content-Type", "multipart/report; report-type=delivery-status; boundary=\"" + boundary + "\"");
    out.append(kCrlf);
    out += "This is a MIME-encapsulated message.\r\n";   // preamble for readers without MIME (RFC 2046 5.1.1)

    // Part 1: for people.
    out += "\r\n--" + boundary + "\r\n";
    out += "Content-Description: Notification\r\n";
    if (has_8bit(text)) out += "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n";
    else out += "Content-Type: text/plain; charset=us-ascii\r\n";
    out.append(kCrlf).append(text);

    // Part 2: for programs (RFC 3464 2.1).
    out += "\r\n--" + boundary + "\r\n";
    out += "Content-Description: Delivery report\r\n";
    // RFC 6533 6.1: a report naming a UTF-8 address is message/global-delivery-status.
    bool global_status = std::any_of(in.recipients.begin(), in.recipients.end(),
                                     [](const DsnRecipient& r) { return has_8bit(r.address) || has_8bit(r.orcpt); });
    out += global_status ? "Content-Type: message/global-delivery-status\r\n" : "Content-Type: message/delivery-status\r\n";
    if (has_8bit(status)) out += "Content-Transfer-Encoding: 8bit\r\n";
    out.append(kCrlf).append(status);

    // Part 3: the original, as it was accepted: its lines are not re-wrapped even when long.
    // XXX a line over 998 octets makes this part "binary" in RFC 2045 terms; it is labelled 8bit/7bit
    // by its octets, as other MTAs do, because readers and relays handle that and would refuse binary.
    // An original whose header holds UTF-8 (SMTPUTF8 mail) goes back as message/global or
    // message/global-headers (RFC 6532 3.7, RFC 6533 6.3), whose headers may.
    bool global_original = has_8bit(header_block(in.original));
    out += "\r\n--" + boundary + "\r\n";
    if (in.headers_only) {
        out += "Content-Description: " + std::string(kReturned[k]) + " Headers\r\n";
        out += global_original ? "Content-Type: message/global-headers\r\n"
                               : "Content-Type: text/rfc822-headers\r\n";   // RFC 6522 4
    } else {
        out += "Content-Description: " + std::string(kReturned[k]) + "\r\n";
        out += global_original ? "Content-Type: message/global\r\n"
                               : "Content-Type: message/rfc822\r\n";   // RFC 2046 5.2.1: 7bit, 8bit or binary only
    }
    if (has_8bit(returned)) out += "Content-Transfer-Encoding: 8bit\r\n";
    out.append(kCrlf).append(returned);
    if (!returned.empty() && !returned.ends_with(kCrlf)) out.append(kCrlf);
    out += "\r\n--" + boundary + "--\r\n";
    return out;
}

}  // namespace mk::smtp
