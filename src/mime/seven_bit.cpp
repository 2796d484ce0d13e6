// mime/seven_bit.cpp — GMime parses the queued message, encodes it for a 7-bit transport and
// writes it out with CRLF line ends; the result is scanned before anyone may send it.
#include "mime/seven_bit.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "core/pread.hpp"
#include "mime/gmime.hpp"

namespace mk {

namespace {

// The header section is looked at up to here; a longer one is not a message we convert.
constexpr std::size_t kMaxHeaderSection = 256 * 1024;
constexpr std::size_t kScanChunk = 64 * 1024;

bool eight_bit(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) >= 0x80; });
}

// header_section - the bytes before the first empty line, from offset skip.
std::optional<std::string> header_section(int fd, std::uint64_t skip) {
    std::string head(kMaxHeaderSection, '\0');
    ssize_t n = pread_full(fd, head.data(), head.size(), skip);
    if (n < 0) return std::nullopt;
    head.resize(static_cast<std::size_t>(n));
    std::size_t end = head.find("\r\n\r\n");
    if (end == std::string::npos) end = head.find("\n\n");
    if (end != std::string::npos) head.resize(end);
    return head;
}

// all_seven_bit - whether every byte of fd, read from the start, is below 0x80.
bool all_seven_bit(int fd) {
    std::string chunk(kScanChunk, '\0');
    for (std::uint64_t at = 0;;) {
        ssize_t n = pread_full(fd, chunk.data(), chunk.size(), at);
        if (n < 0) return false;
        if (n == 0) return true;
        if (eight_bit(std::string_view(chunk.data(), static_cast<std::size_t>(n)))) return false;
        at += static_cast<std::uint64_t>(n);
    }
}

}  // namespace

std::optional<Fd> to_seven_bit(const std::filesystem::path& file, std::uint64_t skip, std::string& why) {
    const Gmime& gm = gmime();
    Fd in(::open(file.c_str(), O_RDONLY | O_CLOEXEC));
    if (!in) {
        why = fmt::format("{}: {}", file.string(), std::strerror(errno));
        return std::nullopt;
    }
    auto head = header_section(in.get(), skip);
    if (!head) {
        why = fmt::format("{}: {}", file.string(), std::strerror(errno));
        return std::nullopt;
    }
    if (eight_bit(*head)) {
        why = "header fields with 8-bit characters";
        return std::nullopt;
    }
    // GMime's file stream owns the descriptor it is given: it gets a duplicate.
    Ref<GMimeStream> source(gm.g_mime_stream_fs_new(::dup(in.get())));
    Ref<GMimeStream> message_bytes(gm.g_mime_stream_substream(source.get(), static_cast<gint64>(skip), -1));
    Ref<GMimeParser> parser(gm.g_mime_parser_new_with_stream(message_bytes.get()));
    gm.g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
    Ref<GMimeMessage> message(gm.g_mime_parser_construct_message(parser.get(), nullptr));
    if (!message) {
        why = "not a message GMime can parse";
        return std::nullopt;
    }
    GMimeObject* object = &message->parent_object;   // the upcast GMIME_OBJECT would check
    gm.g_mime_object_encode(object, GMIME_ENCODING_CONSTRAINT_7BIT);

    Fd out(::memfd_create("mailkeep-7bit", MFD_CLOEXEC));
    if (!out) {
        why = fmt::format("memfd_create: {}", std::strerror(errno));
        return std::nullopt;
    }
    {
        Ref<GMimeStream> sink(gm.g_mime_stream_fs_new(::dup(out.get())));
        FormatOptions format(gm.g_mime_format_options_new());
        gm.g_mime_format_options_set_newline_format(format.get(), GMIME_NEWLINE_FORMAT_DOS);
        if (gm.g_mime_object_write_to_stream(object, format.get(), sink.get()) < 0 || gm.g_mime_stream_flush(sink.get()) != 0) {
            why = "writing the converted message failed";
            return std::nullopt;
        }
    }
    // GMime leaves alone what it does not understand (a part header with 8-bit bytes, say): such
    // a message is refused rather than sent in a form the server has not agreed to.
    if (!all_seven_bit(out.get())) {
        why = "8-bit bytes outside any body part that could be re-encoded";
        return std::nullopt;
    }
    return out;
}

}  // namespace mk
