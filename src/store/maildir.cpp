// store/maildir.cpp — Maildir naming and listing (https://cr.yp.to/proto/maildir.html, Maildir++ S=
// and W=); the files may come from other programs: names and contents are parsed, never trusted
// beyond a size.
#include "store/maildir.hpp"

#include <algorithm>
#include <charconv>
#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/durable.hpp"
#include "store/crlf.hpp"

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

// A file whose name does not give its CRLF size is read in pieces of this many octets to measure it.
constexpr std::size_t kMeasureChunk = 64 * 1024;
// The queue id in the names unique_name makes: 16 upper-case hex digits (core/ids).
constexpr std::size_t kQueueIdDigits = 16;

// name_field - the number after ",<key>" in a Maildir++ name (key "S=" or "W="), before the ":2,"
// flags; nullopt when absent or not a number that fits.
std::optional<std::uint64_t> name_field(std::string_view filename, std::string_view key) {
    std::string_view base = filename.substr(0, filename.find(':'));   // not the flags after ":2,"
    for (std::size_t at = base.find(','); at != std::string_view::npos; at = base.find(',', at + 1)) {
        if (base.substr(at + 1, key.size()) != key) continue;
        std::uint64_t size = 0;
        const char* first = base.data() + at + 1 + key.size();
        const char* last = base.data() + base.size();
        auto [end, ec] = std::from_chars(first, last, size);
        if (ec == std::errc() && end != first && (end == last || *end == ',')) return size;
    }
    return std::nullopt;
}

// written_here - whether Maildir::unique_name made this name: "<sec>.M<usec>P<pid>I<queue id>.".
// Dovecot and Courier write "...P<pid>V<device>I<inode>...", mutt "<sec>.<pid>_<n>.<host>".
bool written_here(std::string_view name) {
    std::size_t i = 0;
    auto digits = [&] {
        const std::size_t start = i;
        while (i < name.size() && name[i] >= '0' && name[i] <= '9') ++i;
        return i > start;
    };
    auto literal = [&](char c) {
        if (i >= name.size() || name[i] != c) return false;
        ++i;
        return true;
    };
    if (!digits() || !literal('.') || !literal('M') || !digits() || !literal('P') || !digits() || !literal('I'))
        return false;
    for (std::size_t k = 0; k < kQueueIdDigits; ++k, ++i) {
        const char c = i < name.size() ? name[i] : '\0';
        if (!((c >= '0' && c <= '9') || (c >= 'A' && c <= 'F'))) return false;
    }
    return literal('.');
}

// measured_size - the size of a file with every bare LF made CRLF, read to its end (the rule RETR
// converts by); nullopt when it cannot be read: gone (another reader took it), or logged.
std::optional<std::uint64_t> measured_size(const std::string& path) {
    Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    std::string chunk(kMeasureChunk, '\0');
    CrlfNormalizer crlf;
    std::uint64_t size = 0;
    while (fd) {
        ssize_t n = ::read(fd.get(), chunk.data(), chunk.size());
        if (n == 0) return size;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) break;
        size += crlf.measure(std::string_view(chunk.data(), static_cast<std::size_t>(n)));
    }
    if (errno != ENOENT) spdlog::warn("maildir: {} left out: cannot read it: {}", path, errno_text(errno));
    return std::nullopt;
}

// for_each_file - fn(name, path) for every regular file in root/new and root/cur but dot files.
// readdir(3) rather than std::filesystem: a maildrop may hold 100,000 messages, and a parsed path
// object per entry costs more than the directory read itself; a stat only where the directory
// entry does not say it is a file.
void for_each_file(const std::filesystem::path& root, const std::function<void(std::string_view, std::string)>& fn) {
    for (const char* sub : {"new", "cur"}) {
        std::string dir = (root / sub).string();
        std::unique_ptr<DIR, int (*)(DIR*)> d(::opendir(dir.c_str()), ::closedir);
        if (!d) {
            if (errno == ENOENT) continue;   // a user who never received mail has no Maildir yet
            throw StorageError(fmt::format("opendir {}: {}", dir, errno_text(errno)));
        }
        while (const dirent* e = ::readdir(d.get())) {
            std::string_view name = e->d_name;
            if (name.empty() || name[0] == '.') continue;
            std::string path = dir + "/" + std::string(name);
            if (e->d_type != DT_REG) {
                struct stat st {};
                if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
            }
            fn(name, std::move(path));
        }
    }
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
    // The intake writes CRLF only: the size on disk (S=) is also the CRLF size (W=), which Dovecot
    // reads as the message's virtual size and mailkeep's POP3 as the size to report.
    return fmt::format("{}.M{}P{}I{}.{},S={},W={}", sec, usec, ::getpid(), queue_id, host, size, size);
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

std::optional<std::uint64_t> Maildir::size_of(std::string_view filename) { return name_field(filename, "S="); }

std::optional<std::uint64_t> Maildir::pop3_size(std::string_view filename) {
    if (std::optional<std::uint64_t> crlf_size = name_field(filename, "W=")) return crlf_size;
    if (written_here(filename)) return size_of(filename);
    return std::nullopt;
}

std::optional<std::uint64_t> Maildir::crlf_size(const std::string& path) { return measured_size(path); }

std::vector<Maildir::Message> Maildir::list() const {
    std::vector<Message> out;
    for_each_file(root_, [&](std::string_view name, std::string path) {
        // The CRLF size in the name (W=, or S= in mailkeep's own names) spares reading the file;
        // any other file is read to measure it, as Dovecot does for a name without W=.
        std::optional<std::uint64_t> size = pop3_size(name);
        if (!size) size = measured_size(path);
        if (size) out.push_back(Message{uid_of(name), std::move(path), *size});
    });
    // Names begin with the delivery time in seconds and, in ours, Dovecot's and Courier's, ".M" and
    // the microseconds: those two numbers, then the name, are delivery order (numbers, not text:
    // M99 comes before M100000). Names without M sort first in their second. Keys are made once.
    struct Key {
        long long sec;
        long usec;
        std::string_view name;
        std::size_t index;
        bool operator<(const Key& o) const {
            if (sec != o.sec) return sec < o.sec;
            return usec != o.usec ? usec < o.usec : name < o.name;
        }
    };
    std::vector<Key> keys;
    keys.reserve(out.size());
    for (std::size_t i = 0; i < out.size(); ++i) {
        std::string_view name = out[i].path;
        name.remove_prefix(name.rfind('/') + 1);
        const char* end = name.data() + name.size();
        long long sec = 0;
        long usec = 0;
        const char* p = std::from_chars(name.data(), end, sec).ptr;
        if (end - p > 2 && p[0] == '.' && p[1] == 'M') std::from_chars(p + 2, end, usec);
        keys.push_back({sec, usec, name, i});
    }
    std::sort(keys.begin(), keys.end());
    std::vector<Message> sorted;
    sorted.reserve(out.size());
    for (const Key& k : keys) sorted.push_back(std::move(out[k.index]));
    return sorted;
}

std::unordered_map<std::string, std::string> Maildir::paths() const {
    std::unordered_map<std::string, std::string> out;
    for_each_file(root_, [&](std::string_view name, std::string path) { out.emplace(uid_of(name), std::move(path)); });
    return out;
}

Fd Maildir::open(Message& m) const {
    Fd fd(::open(m.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (fd || errno != ENOENT) return fd;
    std::unordered_map<std::string, std::string> now;
    try {
        now = paths();
    } catch (const StorageError&) {
        errno = EIO;
        return Fd();
    }
    auto it = now.find(m.uid);
    if (it == now.end()) {
        errno = ENOENT;
        return Fd();
    }
    m.path = std::move(it->second);
    return Fd(::open(m.path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
}

void Maildir::remove(const Message& m) const {
    if (::unlink(m.path.c_str()) != 0 && errno != ENOENT)
        throw StorageError(fmt::format("unlink {}: {}", m.path, errno_text(errno)));
}

}  // namespace mk
