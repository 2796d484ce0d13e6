// store/envelope.cpp — envelope <-> JSON with Boost.JSON; reading is strict about types.
#include "store/envelope.hpp"

#include <boost/json.hpp>

namespace mk {

namespace json = boost::json;

namespace {

// optional_string - a key that envelopes written before it existed do not have.
std::string optional_string(const json::object& o, std::string_view key) {
    const json::value* v = o.if_contains(key);
    return v ? json::value_to<std::string>(*v) : std::string();
}

}  // namespace

std::string envelope_to_json(const Envelope& e) {
    json::array remote;
    for (const QueuedRecipient& r : e.remote)
        remote.push_back(json::object{{"address", r.address}, {"notify", r.notify}, {"orcpt", r.orcpt},
                                      {"original", r.original}});
    json::array mailboxes;
    for (const std::string& m : e.mailboxes) mailboxes.push_back(json::string(m));
    json::object o{
        {"version", 1},
        {"id", e.id},
        {"sender", e.sender},
        {"mailboxes", std::move(mailboxes)},
        {"remote", std::move(remote)},
        {"ret", e.ret},
        {"envid", e.envid},
        {"smtputf8", e.smtputf8},
        {"body_8bit", e.body_8bit},
        {"client", e.client},
        {"auth_user", e.auth_user},
        {"received_at", e.received_at},
        {"return_path_length", e.return_path_length},
        {"postmaster_notice", e.postmaster_notice},
    };
    return json::serialize(o) + "\n";
}

std::optional<Envelope> envelope_from_json(std::string_view text) {
    // Every byte a session accepted must come back, UTF-8 or not: the serializer writes strings'
    // bytes as they are (escaping controls), and this reader takes them back the same way.
    json::parse_options bytes;
    bytes.allow_invalid_utf8 = true;
    json::error_code ec;
    json::value v = json::parse(text, ec, {}, bytes);
    if (ec || !v.is_object()) return std::nullopt;
    try {
        const json::object& o = v.as_object();
        Envelope e;
        e.id = json::value_to<std::string>(o.at("id"));
        e.sender = json::value_to<std::string>(o.at("sender"));
        for (const json::value& m : o.at("mailboxes").as_array()) e.mailboxes.push_back(json::value_to<std::string>(m));
        for (const json::value& r : o.at("remote").as_array()) {
            const json::object& ro = r.as_object();
            e.remote.push_back({json::value_to<std::string>(ro.at("address")),
                                json::value_to<unsigned>(ro.at("notify")),
                                json::value_to<std::string>(ro.at("orcpt")),
                                optional_string(ro, "original")});
        }
        e.ret = json::value_to<std::string>(o.at("ret"));
        e.envid = json::value_to<std::string>(o.at("envid"));
        e.smtputf8 = o.at("smtputf8").as_bool();
        e.body_8bit = o.at("body_8bit").as_bool();
        e.client = json::value_to<std::string>(o.at("client"));
        e.auth_user = json::value_to<std::string>(o.at("auth_user"));
        e.received_at = json::value_to<std::int64_t>(o.at("received_at"));
        e.return_path_length = json::value_to<std::uint64_t>(o.at("return_path_length"));
        if (const json::value* pm = o.if_contains("postmaster_notice")) e.postmaster_notice = pm->as_bool();
        return e;
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

}  // namespace mk
