// imap/fetch_items.cpp — the FETCH items of one message (see fetch_items.hpp).
#include "imap/fetch_items.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>

#include <fmt/format.h>

#include "core/date.hpp"
#include "core/text.hpp"
#include "imap/structure.hpp"
#include "store/crlf.hpp"
#include "store/maildir.hpp"

namespace mk::imap {

namespace {

// literal8 - decoded content for BINARY (RFC 3516 4.2): "~{n}" when it holds a NUL, else a literal.
std::string literal8(std::string_view data) {
    if (data.find('\0') == std::string_view::npos) return literal(data);
    return fmt::format("~{{{}}}\r\n{}", data.size(), data);
}

// section_bytes - what BODY[section] names in message (RFC 9051 6.4.5); empty for a part that is not there.
std::string section_bytes(const BodyPart& root, std::string_view message, const Section& s) {
    const BodyPart* part = find(root, s.part);
    if (!part) return {};
    // HEADER, TEXT and HEADER.FIELDS of a part are those of the message it encloses (message/rfc822).
    const BodyPart* msg = s.part.empty() ? part : (part->parts.size() == 1 && part->type == "message" ? &part->parts[0] : nullptr);
    switch (s.text) {
        case Section::Text::all:
            if (s.part.empty()) return std::string(message);
            return std::string(part->body.of(message));
        case Section::Text::mime: return std::string(part->header.of(message));
        case Section::Text::header:
            return msg ? std::string(msg->header.of(message)) : std::string();
        case Section::Text::header_fields:
        case Section::Text::header_fields_not:
            return msg ? header_fields(msg->header.of(message), s.fields, s.text == Section::Text::header_fields_not)
                       : std::string();
        case Section::Text::text: return msg ? std::string(msg->body.of(message)) : std::string();
    }
    return {};
}

std::string partial_of(std::string bytes, const std::optional<std::pair<std::uint64_t, std::uint64_t>>& p) {
    if (!p) return bytes;
    if (p->first >= bytes.size()) return {};
    return bytes.substr(p->first, p->second);
}

}  // namespace

std::string flags_text(const MessageRecord& r, bool recent) {
    std::string out = "(";
    auto add = [&](std::string_view f) {
        if (out.size() > 1) out += ' ';
        out += f;
    };
    for (const auto& [bit, name] : kSystemFlags)
        if (r.flags & bit) add(name);
    if (recent) add("\\Recent");
    for (const std::string& k : r.keywords) add(k);
    return out + ")";
}

std::optional<std::pair<std::uint32_t, std::vector<std::string>>> flag_bits(const std::vector<std::string>& flags) {
    std::uint32_t bits = 0;
    std::vector<std::string> keywords;
    for (const std::string& f : flags) {
        if (f.starts_with("\\")) {
            bool known = false;
            for (const auto& [b, name] : kSystemFlags)
                if (iequals(f, name)) {
                    bits |= b;
                    known = true;
                }
            if (!known && !iequals(f, "\\Recent")) return std::nullopt;
            continue;
        }
        if (std::none_of(keywords.begin(), keywords.end(), [&](const std::string& k) { return iequals(k, f); }))
            keywords.push_back(f);
    }
    return std::make_pair(bits, keywords);
}

std::string literal(std::string_view data) {
    std::string out = fmt::format("{{{}}}\r\n", data.size());
    const std::size_t head = out.size();
    out += data;
    std::replace(out.begin() + static_cast<std::ptrdiff_t>(head), out.end(), '\0', '\x80');
    return out;
}

std::string load_message(const std::filesystem::path& folder, const MessageRecord& r) {
    std::filesystem::path path = folder / r.file;
    std::ifstream in(path, std::ios::binary);
    if (!in) {
        const std::string unique = Maildir::uid_of(std::filesystem::path(r.file).filename().string());
        for (const char* sub : {"cur", "new"}) {
            std::error_code ec;
            for (const auto& e : std::filesystem::directory_iterator(folder / sub, ec))
                if (Maildir::uid_of(e.path().filename().string()) == unique) {
                    in.open(e.path(), std::ios::binary);
                    break;
                }
            if (in.is_open()) break;
        }
        if (!in) return {};
    }
    std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    bool bare_lf = false;
    for (std::size_t i = raw.find('\n'); i != std::string::npos && !bare_lf; i = raw.find('\n', i + 1))
        bare_lf = i == 0 || raw[i - 1] != '\r';
    if (!bare_lf) return raw;
    std::string out;
    out.reserve(raw.size() + raw.size() / 32);
    CrlfNormalizer n;
    n.feed(raw, out);
    return out;
}

bool needs_file(const FetchAtt& a) {
    using K = FetchAtt::Kind;
    return !(a.kind == K::flags || a.kind == K::uid || a.kind == K::modseq || a.kind == K::internaldate ||
             a.kind == K::rfc822_size);
}

MessageItems message_items(const std::vector<FetchAtt>& atts, const MessageRecord& r, bool recent,
                           const std::filesystem::path& folder, const ItemCache& cached) {
    MessageItems out;
    // The file is read at most once, and parsed only for an item that needs its MIME tree (BODY[]
    // and RFC822 are the bytes as they are).
    std::optional<std::string> loaded;
    std::optional<BodyPart> root;
    std::string_view message;
    auto need_bytes = [&] {
        if (!loaded) message = *(loaded = load_message(folder, r));
    };
    auto need_message = [&] {
        need_bytes();
        if (!root) root = parse(message);
    };
    auto add = [&](std::string_view name, std::string_view value) {
        if (!out.text.empty()) out.text += ' ';
        out.text += name;
        out.text += ' ';
        out.text += value;
    };
    for (const FetchAtt& a : atts) {
        using K = FetchAtt::Kind;
        switch (a.kind) {
            case K::flags:
                add("FLAGS", flags_text(r, recent));
                out.flags = true;
                break;
            case K::uid:
                add("UID", std::to_string(r.uid));
                out.uid = true;
                break;
            case K::modseq:
                add("MODSEQ", fmt::format("({})", r.modseq));
                out.modseq = true;
                break;
            case K::internaldate: add("INTERNALDATE", "\"" + imap_date_time(r.internal_date) + "\""); break;
            case K::rfc822_size: add("RFC822.SIZE", std::to_string(r.size)); break;
            case K::envelope:
                add("ENVELOPE", cached("envelope", [&] {
                        need_message();
                        return envelope(root->header.of(message));
                    }));
                break;
            case K::bodystructure:
                add("BODYSTRUCTURE", cached("bodystructure", [&] {
                        need_message();
                        return body_structure(*root, message, true);
                    }));
                break;
            case K::body:
                add("BODY", cached("body", [&] {
                        need_message();
                        return body_structure(*root, message, false);
                    }));
                break;
            case K::rfc822:
                need_bytes();
                add("RFC822", literal(message));
                break;
            case K::rfc822_header:
                need_message();
                add("RFC822.HEADER", literal(root->header.of(message)));
                break;
            case K::rfc822_text:
                need_message();
                add("RFC822.TEXT", literal(root->body.of(message)));
                break;
            case K::body_section:
                if (a.section.part.empty() && a.section.text == Section::Text::all) {
                    need_bytes();
                    add(a.name, a.partial ? literal(partial_of(std::string(message), a.partial)) : literal(message));
                    break;
                }
                need_message();
                add(a.name, literal(partial_of(section_bytes(*root, message, a.section), a.partial)));
                break;
            case K::binary:
            case K::binary_size: {
                need_message();
                const BodyPart* part = find(*root, a.section.part);
                std::optional<std::string> bytes = part ? decoded(*part, message) : std::string();
                if (!bytes) {
                    out.unknown_cte = true;
                    break;
                }
                if (a.kind == K::binary_size) add(a.name, std::to_string(bytes->size()));
                else add(a.name, literal8(partial_of(std::move(*bytes), a.partial)));
                break;
            }
        }
    }
    return out;
}

}  // namespace mk::imap
