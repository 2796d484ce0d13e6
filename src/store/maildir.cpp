// store/maildir.cpp — Maildir naming and listing (https://cr.yp.to/proto/maildir.html, Maildir++ S=).
#include "store/maildir.hpp"

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <chrono>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include "store/durable.hpp"

namespace mk {

namespace {

// The host part of a Maildir name may not hold '/' or ':' (the flag separator); keep it short so
// the unique part stays a valid POP3 UIDL (RFC 1939 7: at most 70 printable characters).
std::string safe_hostname() {
    char buf[256] = {};
    if (::gethostname(buf, sizeof buf - 1) != 0) return "localhost";
    std::string out;
    for (char* p = buf; *p && out.size() < 16; ++p) {
        char c = *p;
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
        out += ok ? c : '_';
    }
    return out.empty() ? "localhost" : out;
}

}  // namespace

std::filesystem::path maildir_path(const std::filesystem::path& data_dir, std::string_view user) {
    return data_dir / "mail" / std::string(user);
}

void Maildir::ensure() const {
    make_dir_durable(root_.parent_path());
    make_dir_durable(root_);
    for (const char* sub : {"tmp", "new", "cur"}) make_dir_durable(root_ / sub);
}

std::string Maildir::unique_name(const std::string& queue_id, std::uint64_t size) {
    static const std::string host = safe_hostname();
    auto now = std::chrono::system_clock::now().time_since_epoch();
    auto sec = std::chrono::duration_cast<std::chrono::seconds>(now).count();
    auto usec = std::chrono::duration_cast<std::chrono::microseconds>(now).count() % 1000000;
    return fmt::format("{}.M{}P{}I{}.{},S={}", sec, usec, ::getpid(), queue_id, host, size);
}

bool Maildir::holds(const std::string& queue_id) const {
    std::string needle = "I" + queue_id + ".";
    for (const char* sub : {"new", "cur"}) {
        std::error_code ec;
        for (const auto& e : std::filesystem::directory_iterator(root_ / sub, ec))
            if (e.path().filename().string().find(needle) != std::string::npos) return true;
    }
    return false;
}

std::string Maildir::uid_of(std::string_view filename) {
    return std::string(filename.substr(0, filename.find_first_of(",:")));
}

std::vector<Maildir::Message> Maildir::list() const {
    std::vector<Message> out;
    for (const char* sub : {"new", "cur"}) {
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(root_ / sub, ec)) {
            std::string name = entry.path().filename().string();
            if (name.empty() || name[0] == '.') continue;
            struct stat st {};
            if (::stat(entry.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
            out.push_back(Message{uid_of(name), entry.path(), static_cast<std::uint64_t>(st.st_size),
                                  static_cast<long long>(st.st_mtime)});
        }
    }
    // Names begin with the delivery time in seconds, so that number, then the name, is delivery
    // order; names written by other tools sort by the same rule. Keys are made once, not per compare.
    std::vector<std::pair<std::pair<long long, std::string>, std::size_t>> keys;
    keys.reserve(out.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        std::string n = out[i].path.filename().string();
        long long sec = 0;
        std::from_chars(n.data(), n.data() + n.size(), sec);
        keys.push_back({{sec, std::move(n)}, i});
    }
    std::sort(keys.begin(), keys.end());
    std::vector<Message> sorted;
    sorted.reserve(out.size());
    for (auto& k : keys) sorted.push_back(std::move(out[k.second]));
    out = std::move(sorted);
    return out;
}

Fd Maildir::open(Message& m) const {
    Fd fd(::open(m.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd || errno != ENOENT) return fd;
    for (const Message& now : list()) {
        if (now.uid != m.uid) continue;
        m.path = now.path;
        return Fd(::open(m.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    }
    errno = ENOENT;
    return Fd();
}

void Maildir::remove(const Message& m) const {
    if (::unlink(m.path.c_str()) != 0 && errno != ENOENT)
        throw StorageError(fmt::format("unlink {}: {}", m.path.string(), errno_text(errno)));
}

}  // namespace mk
