// smtp/notice.cpp — notices from the mail system: built as text, then handed to the intake.
#include "smtp/notice.hpp"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/address.hpp"
#include "core/date.hpp"
#include "core/ids.hpp"
#include "route/router.hpp"
#include "smtp/command.hpp"
#include "smtp/message_text.hpp"
#include "store/intake.hpp"

namespace mk::smtp {

namespace {

// attachment_part - one MIME body part, from its header to its last CRLF.
std::string attachment_part(const NoticeAttachment& a) {
    std::string out = field("Content-Description", a.description);
    std::string_view content = a.content;
    switch (a.kind) {
        case NoticeAttachment::Kind::message:
        case NoticeAttachment::Kind::headers: {
            bool headers = a.kind == NoticeAttachment::Kind::headers;
            if (headers) content = header_block(content);
            // RFC 6532 3.7: a header with UTF-8 travels as message/global(-headers).
            bool global = has_8bit(header_block(content));
            out += headers ? (global ? "Content-Type: message/global-headers\r\n" : "Content-Type: text/rfc822-headers\r\n")
                           : (global ? "Content-Type: message/global\r\n" : "Content-Type: message/rfc822\r\n");
            if (has_8bit(content)) out += "Content-Transfer-Encoding: 8bit\r\n";
            out.append(kCrlf).append(content);
            if (!content.empty() && !content.ends_with(kCrlf)) out.append(kCrlf);
            return out;
        }
        case NoticeAttachment::Kind::octets:
            out += field("Content-Type", "application/octet-stream; name=\"" + boundary_chars(a.filename) + "\"");
            out += field("Content-Disposition", "attachment; filename=\"" + boundary_chars(a.filename) + "\"");
            out += "Content-Transfer-Encoding: base64\r\n";
            out.append(kCrlf).append(base64_lines(content));
            return out;
    }
    return out;
}

}  // namespace

std::string build_notice(const NoticeInput& in) {
    std::string text;
    for (const std::string& p : in.paragraphs) text += wrap("", p, "") + std::string(kCrlf);
    std::vector<std::string> parts;
    for (const NoticeAttachment& a : in.attachments) parts.push_back(attachment_part(a));

    std::string out;
    out += field("From", "Mail Delivery System <" + in.postmaster + ">");
    out += field("To", "<" + in.to + ">");
    out += field("Subject", in.subject);
    out += field("Date", rfc5322_date(in.now));
    out += field("Message-ID", "<notice." + boundary_chars(in.id) + "@" + in.reporting_mta + ">");
    out += field("Auto-Submitted", "auto-generated");   // RFC 3834 5: no automatic reply to this
    out += field("MIME-Version", "1.0");
    std::string_view charset = has_8bit(text) ? "utf-8" : "us-ascii";
    std::string_view cte = has_8bit(text) ? "Content-Transfer-Encoding: 8bit\r\n" : "";
    if (parts.empty()) {
        out += fmt::format("Content-Type: text/plain; charset={}\r\n{}\r\n", charset, cte);
        return out + text;
    }
    std::vector<std::string_view> contents{text};
    contents.insert(contents.end(), parts.begin(), parts.end());
    std::string boundary = unique_boundary("=_mailkeep-notice-" + in.id, "=_mailkeep-notice", contents);
    out += field("Content-Type", "multipart/mixed; boundary=\"" + boundary + "\"");
    out.append(kCrlf);
    out += "This is a MIME-encapsulated message.\r\n";   // for readers without MIME (RFC 2046 5.1.1)
    out += "\r\n--" + boundary + "\r\n";
    out += fmt::format("Content-Description: Notification\r\nContent-Type: text/plain; charset={}\r\n{}\r\n", charset, cte);
    out += text;
    for (const std::string& p : parts) out += "\r\n--" + boundary + "\r\n" + p;
    out += "\r\n--" + boundary + "--\r\n";
    return out;
}

boost::asio::awaitable<std::string> submit_notice(Intake& intake, const Config& config, Notice notice) {
    Envelope env;
    env.id = new_queue_id();
    env.received_at = std::time(nullptr);
    env.client = fmt::format("local ({})", notice.kind);
    // Carried the way it needs: 8-bit content with BODY=8BITMIME (or converted by the relay), and
    // SMTPUTF8 when the recipient's address is UTF-8 (RFC 6533 4).
    env.body_8bit = has_8bit(notice.text);
    env.smtputf8 = has_8bit(notice.to);
    RouteResult route;
    if (auto to = parse_mailbox(notice.to)) route = route_recipient(config, *to, true);
    else route.code = 553;
    if (!route.accepted() && !notice.postmaster_notice) {
        // RFC 5321 6.1 / 4.5.1: what cannot reach its owner goes to the postmaster, never nowhere.
        spdlog::warn("{}: {} for <{}> cannot be routed ({}); it goes to the postmaster", notice.about, notice.kind,
                     notice.to, route.reason.empty() ? "not an address" : route.reason);
        notice.postmaster_notice = true;
        if (auto pm = parse_mailbox(config.postmaster)) route = route_recipient(config, *pm, true);
    }
    if (!route.accepted())
        throw std::runtime_error(fmt::format("{} for <{}> cannot be routed: {}", notice.kind, notice.to, route.reason));
    env.postmaster_notice = notice.postmaster_notice;
    for (const Target& t : route.targets) {
        if (t.kind == Target::Kind::mailbox) env.mailboxes.push_back(t.name);
        else env.remote.push_back({t.name, kNotifyNever, "", t.original});   // a notice asks for no DSN back
    }
    std::string trace = "Return-Path: <>\r\n";
    env.return_path_length = trace.size();
    auto spool = intake.create(env.id);
    spool->write(trace);
    spool->write(fmt::format("Received: by {} (mailkeep, {} for {}) id {};\r\n\t{}\r\n", config.hostname, notice.kind,
                             notice.about, env.id, rfc5322_date(env.received_at)));
    spool->write(notice.text);
    co_await intake.commit(std::move(spool), env);
    co_return env.id;
}

}  // namespace mk::smtp
