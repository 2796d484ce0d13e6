// store/maildir.hpp — one user's Maildir (tmp/new/cur), as Dovecot and mutt read it. mailkeep stores
// files with CRLF line ends; other programs (Dovecot's LDA, mutt) may write LF. A message's size is
// always the size POP3 reports: what RETR sends, CRLF line ends, before dot-stuffing.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/durable.hpp"

namespace mk {

class Maildir {
public:
    explicit Maildir(std::filesystem::path root) : root_(std::move(root)) {}

    const std::filesystem::path& root() const { return root_; }
    std::filesystem::path new_dir() const { return root_ / "new"; }

    // ensure - create root, tmp, new and cur if missing, making each creation durable.
    void ensure() const;

    struct Message {
        std::string uid;                   // the unique part of the name: stable across new -> cur
        std::string path;                  // root/new/<name> or root/cur/<name>
        std::uint64_t size = 0;            // as POP3 reports it (RFC 1939 5): CRLF, before dot-stuffing
    };
    // list - every message in new/ and cur/, oldest first. The size comes from the name when it
    // gives the CRLF size (",W=", or ",S=" in a name mailkeep wrote); any other file is read to
    // measure it (blocking: call it on the blocking pool).
    std::vector<Message> list() const;
    // paths - where each message is now, by uid; from the names only, no file is read.
    std::unordered_map<std::string, std::string> paths() const;
    // open - the message for reading; if another Maildir reader moved it (new/ -> cur/, or added
    // flags to its name) it is found again by uid and m.path updated. An invalid Fd if it is gone.
    Fd open(Message& m) const;
    // remove - unlink a message; a message already gone is not an error (another reader took it).
    void remove(const Message& m) const;

    // unique_name - "<sec>.M<usec>P<pid>I<queue id>.<host>,S=<size>,W=<size>" (Maildir++; the file
    // is CRLF, so its size on disk is its CRLF size). The queue id makes it unique (a message is
    // linked into a Maildir once) and lets recovery find it.
    static std::string unique_name(const std::string& queue_id, std::uint64_t size);
    // holds - whether a message named for this queue id is in new/ or cur/.
    bool holds(const std::string& queue_id) const;
    // uid_of - the part of a file name before the first ',' or ':'.
    static std::string uid_of(std::string_view filename);
    // size_of - the size on disk a Maildir++ name carries (",S=<octets>" before the flags), if any.
    static std::optional<std::uint64_t> size_of(std::string_view filename);
    // pop3_size - the CRLF size a name gives, if it gives one: ",W=<octets>" (Maildir++, Dovecot's
    // virtual size), or ",S=" in a name unique_name made (mailkeep writes CRLF only, so that holds
    // for its names from before it wrote W= too).
    static std::optional<std::uint64_t> pop3_size(std::string_view filename);
    // crlf_size - a file's size with every bare LF made CRLF, read to its end (for a name that does
    // not give it); nullopt when it cannot be read (gone, or logged). Blocking.
    static std::optional<std::uint64_t> crlf_size(const std::string& path);

private:
    std::filesystem::path root_;
};

// The maildir of a user under the data directory: data_dir/mail/<user>.
std::filesystem::path maildir_path(const std::filesystem::path& data_dir, std::string_view user);

}  // namespace mk
