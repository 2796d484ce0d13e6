// route/multidrop.cpp — multidrop recipients: GMime reads the untrusted header section, route_recipient
// says who each local address is; bounded work, no I/O (beyond loading GMime on the first call).
#include "route/multidrop.hpp"

#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>

#include "core/address.hpp"
#include "mime/gmime.hpp"
#include "route/router.hpp"

namespace mk {

namespace {

// What "auto" tries, in order: the headers a final delivery writes with the envelope recipient
// (Postfix and qmail Delivered-To, Postfix X-Original-To, Exim Envelope-To, others X-Envelope-To).
constexpr std::string_view kEnvelopeHeaders[] = {"Delivered-To", "X-Original-To", "Envelope-To", "X-Envelope-To"};
constexpr std::string_view kDeliveredTo = "Delivered-To";
constexpr std::string_view kReceived = "Received";
constexpr std::string_view kAuto = "auto";
// The visible recipients: the last resort, as they need not name the envelope (Bcc, lists).
constexpr std::string_view kVisibleHeaders[] = {"To", "Cc", "Resent-To", "Resent-Cc"};
// RFC 5322 3.4: a group holds mailboxes, not groups; GMime's model could nest them, so depth is capped.
constexpr int kMaxGroupDepth = 1;

struct Header {
    std::string name;
    std::string value;   // unfolded, encoded words kept
};

using AddressList = std::unique_ptr<InternetAddressList, Unref>;

// is_a - what INTERNET_ADDRESS_IS_MAILBOX and friends test, through the loaded library.
bool is_a(InternetAddress* ia, GType type) {
    return ia && gmime().g_type_check_instance_is_a(reinterpret_cast<GTypeInstance*>(ia), type);
}

// ignore_warning - GMime reports every oddity it meets; broken mail is ordinary input here.
void ignore_warning(gint64, GMimeParserWarning, const gchar*, gpointer) {}

// parser_options - liberal, since provider mail is whatever senders wrote; an address needs a domain.
ParserOptions parser_options() {
    const Gmime& gm = gmime();
    ParserOptions o(gm.g_mime_parser_options_new());
    gm.g_mime_parser_options_set_address_compliance_mode(o.get(), GMIME_RFC_COMPLIANCE_LOOSE);
    gm.g_mime_parser_options_set_rfc2047_compliance_mode(o.get(), GMIME_RFC_COMPLIANCE_LOOSE);
    gm.g_mime_parser_options_set_allow_addresses_without_domain(o.get(), FALSE);
    gm.g_mime_parser_options_set_warning_callback(o.get(), ignore_warning, nullptr);
    return o;
}

// same_name - header field names compare without case (RFC 5322 1.2.2).
bool same_name(std::string_view a, std::string_view b) { return lowercase_ascii(a) == lowercase_ascii(b); }

// trim - s without surrounding spaces and tabs.
std::string_view trim(std::string_view s) {
    auto first = s.find_first_not_of(" \t");
    if (first == std::string_view::npos) return {};
    return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// unfold - a raw header value on one line (RFC 5322 2.2.3): CR and LF become spaces, and so does NUL,
// which would end the C string GMime's address parser reads.
std::string unfold(std::string_view raw) {
    std::string out(raw);
    for (char& c : out)
        if (c == '\r' || c == '\n' || c == '\0') c = ' ';
    return std::string(trim(out));
}

// bounded - block cut to kMaxMultidropHeaderBytes, after the last whole line within the limit.
std::string_view bounded(std::string_view block) {
    if (block.size() <= kMaxMultidropHeaderBytes) return block;
    auto cut = block.rfind('\n', kMaxMultidropHeaderBytes - 1);
    return cut == std::string_view::npos ? std::string_view() : block.substr(0, cut + 1);
}

// read_headers - the fields of the header section, in order, by GMime's message parser.
std::vector<Header> read_headers(std::string_view block, GMimeParserOptions* options) {
    std::string text(bounded(block));
    // The parser ends the section at an empty line; the block may stop just before it.
    text += "\n\n";
    const Gmime& gm = gmime();
    Ref<GMimeStream> stream(gm.g_mime_stream_mem_new_with_buffer(text.data(), text.size()));   // copies
    Ref<GMimeParser> parser(gm.g_mime_parser_new_with_stream(stream.get()));
    gm.g_mime_parser_set_format(parser.get(), GMIME_FORMAT_MESSAGE);
    Ref<GMimeMessage> message(gm.g_mime_parser_construct_message(parser.get(), options));
    std::vector<Header> out;
    if (!message) return out;
    // The upcast GMIME_OBJECT would make (and check): a GMimeMessage begins with its GMimeObject.
    GMimeHeaderList* list = gm.g_mime_object_get_header_list(&message->parent_object);
    int count = list ? gm.g_mime_header_list_get_count(list) : 0;
    for (int i = 0; i < count; ++i) {
        GMimeHeader* h = gm.g_mime_header_list_get_header_at(list, i);
        const char* name = h ? gm.g_mime_header_get_name(h) : nullptr;
        const char* raw = h ? gm.g_mime_header_get_raw_value(h) : nullptr;
        if (name && raw) out.push_back({name, unfold(raw)});
    }
    return out;
}

// collect - the mailbox addresses of an address list, members of groups included, as GMime decoded
// them (display names, comments and encoded words are not part of an address).
void collect(InternetAddressList* list, int depth, std::vector<std::string>& out) {
    const Gmime& gm = gmime();
    int n = list ? gm.internet_address_list_length(list) : 0;
    for (int i = 0; i < n; ++i) {
        InternetAddress* ia = gm.internet_address_list_get_address(list, i);
        // The downcasts follow the type checks (INTERNET_ADDRESS_MAILBOX and _GROUP would check again).
        if (is_a(ia, gm.internet_address_mailbox_get_type())) {
            auto* mb = reinterpret_cast<InternetAddressMailbox*>(ia);
            const char* addr = gm.internet_address_mailbox_get_addr(mb);
            if (addr) out.emplace_back(addr);
            // The ASCII form too, in case the local domain is written as an A-label (RFC 5890 2.3.2.1).
            const char* idn = gm.internet_address_mailbox_get_idn_addr(mb);
            if (idn && (!addr || std::string_view(addr) != idn)) out.emplace_back(idn);
        } else if (is_a(ia, gm.internet_address_group_get_type()) && depth < kMaxGroupDepth) {
            collect(gm.internet_address_group_get_members(reinterpret_cast<InternetAddressGroup*>(ia)), depth + 1,
                    out);
        }
    }
}

// addresses - the mailbox addresses of one header value.
std::vector<std::string> addresses(const std::string& value, GMimeParserOptions* options) {
    std::vector<std::string> out;
    AddressList list(gmime().internet_address_list_parse(options, value.c_str()));
    collect(list.get(), 0, out);
    return out;
}

// received_for - the address in the "for" clause of one Received: value (RFC 5321 4.4:
// For = CFWS "FOR" FWS ( Path / Mailbox )); "for" in any case, angle brackets optional. The value is
// untrusted: one pass, comments skipped whatever they hold, nothing recursive.
std::optional<Address> received_for(std::string_view value) {
    std::string text;   // value without comments (RFC 5322 3.2.2), which may say "for" too
    text.reserve(value.size());
    std::size_t depth = 0;
    bool escaped = false;
    for (char c : value) {
        if (depth == 0) {
            if (c == '(') depth = 1;
            text += depth ? ' ' : c;
        } else if (escaped) {
            escaped = false;
        } else if (c == '\\') {
            escaped = true;
        } else if (c == '(') {
            ++depth;
        } else if (c == ')') {
            --depth;
        }
    }
    // RFC 5321 4.4: the date-time follows the last ';' and holds no clause.
    if (auto semi = text.rfind(';'); semi != std::string::npos) text.resize(semi);
    constexpr std::string_view kSpace = " \t";
    std::string_view rest = text;
    for (;;) {
        auto start = rest.find_first_not_of(kSpace);
        if (start == std::string_view::npos) return std::nullopt;
        rest.remove_prefix(start);
        auto end = std::min(rest.find_first_of(kSpace), rest.size());
        std::string_view word = rest.substr(0, end);
        rest.remove_prefix(end);
        if (lowercase_ascii(word) != "for") continue;
        auto at = rest.find_first_not_of(kSpace);
        if (at == std::string_view::npos) return std::nullopt;
        std::string_view arg = rest.substr(at);
        if (arg.starts_with('<')) {
            PathResult p = parse_path(arg, false, true);
            if (p.error == PathError::none) return p.address;
        } else if (auto m = parse_mailbox(arg.substr(0, std::min(arg.find_first_of(kSpace), arg.size())))) {
            return m;
        }
    }
}

// normal - an address or Delivered-To value as compared for loops: trimmed, without angle brackets,
// lowercase (local parts are matched without case here, as route_recipient does).
std::string normal(std::string_view s) {
    s = trim(s);
    if (s.size() >= 2 && s.front() == '<' && s.back() == '>') s = trim(s.substr(1, s.size() - 2));
    return lowercase_ascii(s);
}

// Finder - collects the recipients of one message into its result, each local address resolved once.
class Finder {
public:
    Finder(const Config& config, MultidropResult& result) : config_(config), result_(result) {
        // With a downstream server route_recipient names a local user by a queue target; users must
        // come out by name all the same, so they are resolved as if delivered to Maildir.
        if (config.delivery.mode != DeliveryConfig::Mode::maildir) {
            maildir_view_.emplace(config);
            maildir_view_->delivery.mode = DeliveryConfig::Mode::maildir;
        }
    }

    // add - one address written in a header; true when it is in a local domain (known or not).
    bool add(std::string_view text) {
        auto a = parse_mailbox(text);
        if (!a || !config_.is_local_domain(a->domain)) return false;
        std::string key = lowercase_ascii(a->local) + "@" + a->domain;
        if (seen_.contains(key) || seen_.size() >= kMaxLocalAddresses) return true;
        seen_.insert(std::move(key));
        RouteResult r = route_recipient(maildir_view_ ? *maildir_view_ : config_, *a, false);
        if (!r.accepted()) {
            result_.unknown = true;   // no such user, an alias loop, or an alias that reaches nobody
            return true;
        }
        for (const Target& t : r.targets) {
            if (t.kind == Target::Kind::mailbox) {
                if (std::find(result_.users.begin(), result_.users.end(), t.name) == result_.users.end())
                    result_.users.push_back(t.name);
            } else if (std::none_of(result_.remote.begin(), result_.remote.end(),
                                    [&](const Target& r) { return r.name == t.name; })) {
                result_.remote.push_back(t);
            }
        }
        return true;
    }

    // add_all - every address in values; true when one of them is local.
    bool add_all(const std::vector<std::string>& values) {
        bool local = false;
        for (const std::string& v : values) local = add(v) || local;
        return local;
    }

private:
    const Config& config_;
    MultidropResult& result_;
    std::optional<Config> maildir_view_;
    std::set<std::string> seen_;   // lowercased local addresses already resolved
};

// Reader - the parsed header section and the ways to read recipients from it.
struct Reader {
    std::vector<Header> headers;
    GMimeParserOptions* options;

    // from_header - the addresses of every field called name; true when one was local.
    bool from_header(std::string_view name, Finder& finder) const {
        bool local = false;
        for (const Header& h : headers)
            if (same_name(h.name, name)) local = finder.add_all(addresses(h.value, options)) || local;
        return local;
    }

    // from_received - the first Received: field, top down, whose "for" clause names a local address.
    bool from_received(Finder& finder) const {
        std::size_t scanned = 0;
        for (const Header& h : headers) {
            if (!same_name(h.name, kReceived)) continue;
            if (++scanned > kMaxReceivedScanned) break;
            if (auto a = received_for(h.value); a && finder.add(a->str())) return true;
        }
        return false;
    }

    // from_named - one named field, Received: read by its "for" clause.
    bool from_named(std::string_view name, Finder& finder) const {
        return same_name(name, kReceived) ? from_received(finder) : from_header(name, finder);
    }

    // loops - whether a Delivered-To: field is the one mailkeep itself writes.
    bool loops(std::string_view own) const {
        std::string mine = normal(own);
        if (mine.empty()) return false;
        for (const Header& h : headers) {
            if (!same_name(h.name, kDeliveredTo)) continue;
            if (normal(h.value) == mine) return true;
            for (const std::string& a : addresses(h.value, options))
                if (normal(a) == mine) return true;
        }
        return false;
    }
};

}  // namespace

void load_multidrop_parser() { gmime(); }   // throws when the library cannot be loaded

MultidropResult multidrop_recipients(const Config& config, std::string_view header_block,
                                     std::string_view envelope_header, std::string_view own_delivered_to) {
    MultidropResult result;
    ParserOptions options = parser_options();
    Reader reader{read_headers(header_block, options.get()), options.get()};
    if (reader.loops(own_delivered_to)) {
        result.loop = true;   // delivering it again would go round once more: no recipients at all
        result.source = kDeliveredTo;
        return result;
    }
    Finder finder(config, result);
    // The envelope first: it names the recipient this copy was delivered to, where To/Cc may name
    // others (who got copies of their own) or nobody local (Bcc, mailing lists).
    if (lowercase_ascii(envelope_header) == kAuto) {
        for (std::string_view name : kEnvelopeHeaders) {
            if (reader.from_header(name, finder)) {
                result.source = name;
                return result;
            }
        }
        if (reader.from_received(finder)) {
            result.source = kReceived;
            return result;
        }
    } else if (!envelope_header.empty() && reader.from_named(envelope_header, finder)) {
        result.source = envelope_header;
        return result;
    }
    for (std::string_view name : kVisibleHeaders) {
        if (reader.from_header(name, finder)) result.source += (result.source.empty() ? "" : "/") + std::string(name);
    }
    return result;
}

}  // namespace mk
