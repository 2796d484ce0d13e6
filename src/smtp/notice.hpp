// smtp/notice.hpp — mail the mail system writes itself (DSNs, postmaster notices, a user told of a
// message left on the provider): a plain-text notice with attachments, and the one way such a
// message enters, through the intake from the null sender like any other mail.
#pragma once

#include <ctime>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/awaitable.hpp>

#include "core/config.hpp"

namespace mk {
class Intake;
}

namespace mk::smtp {

struct NoticeAttachment {
    enum class Kind {
        message,   // a mail message (CRLF): message/rfc822, or message/global with UTF-8 in its header
        headers,   // a message's header only: text/rfc822-headers (RFC 6522 4) or message/global-headers
        octets,    // any bytes: application/octet-stream, base64
    };
    Kind kind = Kind::message;
    std::string description;   // Content-Description
    std::string filename;      // octets: the name offered when saved
    std::string_view content;
};

struct NoticeInput {
    std::string reporting_mta;   // our hostname
    std::string postmaster;      // From: "Mail Delivery System <postmaster@...>"
    std::string to;              // To:
    std::string subject;
    std::vector<std::string> paragraphs;   // the text, each wrapped and followed by an empty line
    std::vector<NoticeAttachment> attachments;
    std::string id;              // the notice's queue id, for its Message-ID and boundary
    std::time_t now = 0;         // Date:; a parameter so tests are reproducible
};

// build_notice - the whole message (header and body, CRLF): text/plain alone, or multipart/mixed
// with the text first and then each attachment.
std::string build_notice(const NoticeInput& in);

struct Notice {
    std::string to;          // who is told
    std::string about;       // the queue id or account it is about: the log and Received: say so
    std::string kind;        // "failure report", "damaged queue entry", ...: likewise
    std::string text;        // header and body, CRLF
    // A notice to the postmaster as the last resort (a bounce that failed, a damaged queue entry):
    // if it fails in turn it is logged and dropped, never reported on again.
    bool postmaster_notice = false;
};

// submit_notice - route notice.to as a trusted local client would (aliases and forwards apply),
// or the postmaster when no one takes it (an unknown local sender), write the spool file
// (Return-Path: <> and a Received: line first) and commit it through the intake. Returns the new
// queue id. Throws when the postmaster cannot be routed either or the intake refuses.
boost::asio::awaitable<std::string> submit_notice(Intake& intake, const Config& config, Notice notice);

}  // namespace mk::smtp
