// main.cpp — the mailkeep command line: serve, check-config, passwd, user, queue.
#include <unistd.h>

#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include "core/config.hpp"
#include "core/config_edit.hpp"
#include "core/cram_md5.hpp"
#include "core/log.hpp"
#include "core/password.hpp"
#include "server/control.hpp"
#include "server/daemon.hpp"
#include "server/descriptors.hpp"
#include "server/first_run.hpp"
#include "server/privileges.hpp"
#include "server/views.hpp"
#include "store/queue.hpp"

namespace {

namespace fs = std::filesystem;

// load_or_report - the config, or every error on stderr and nullptr.
std::shared_ptr<mk::Config> load_or_report(const fs::path& file) {
    mk::ConfigResult r = mk::load_config(file);
    for (const mk::ConfigError& e : r.errors) std::cerr << e.to_string() << "\n";
    return r.config;
}

std::string read_password_stdin() {
    std::string pw;
    std::getline(std::cin, pw);
    if (!pw.empty() && pw.back() == '\r') pw.pop_back();
    return pw;
}

int cmd_serve(const std::string& config_file, const std::string& data_dir, bool verbose) {
    mk::init_logging(verbose);
    try {
        fs::path file = config_file.empty() ? mk::prepare_data_dir(data_dir) : fs::path(config_file);
        // Started as root, the config decides what runs as root: only root may be able to change it.
        if (::geteuid() == 0) file = mk::checked_config_path(file);
        std::shared_ptr<mk::Config> config = load_or_report(file);
        if (!config) return 1;
        return mk::serve(config);
    } catch (const std::exception& e) {
        std::cerr << "mailkeep: " << e.what() << "\n";
        return 1;
    }
}

int cmd_check(const std::string& file) {
    auto config = load_or_report(file);
    if (!config) return 1;
    // A warning, not an error: the service may well run with a higher limit than this shell.
    if (auto warning = mk::descriptor_warning(*config)) std::cerr << fmt::format("{}: warning: {}\n", file, *warning);
    std::cout << fmt::format("{}: ok ({} users, {} aliases)\n", file, config->users.size(), config->aliases.size());
    return 0;
}

int cmd_user_add(const std::string& file, const std::string& name, const std::vector<std::string>& addresses,
                 bool password_stdin) {
    mk::UserConfig u;
    u.name = name;
    u.addresses = addresses;
    std::string password = password_stdin ? read_password_stdin() : mk::random_password();
    u.password_hash = mk::hash_password(password);
    auto errors = mk::add_user_to_file(file, u);
    for (const mk::ConfigError& e : errors) std::cerr << e.to_string() << "\n";
    if (!errors.empty()) return 1;
    std::cout << fmt::format("added user {} to {}\n", name, file);
    if (!password_stdin) std::cout << fmt::format("password: {}\n", password);
    std::cout << "a running daemon picks it up on SIGHUP\n";
    return 0;
}

int cmd_user_list(const std::string& file) {
    auto config = load_or_report(file);
    if (!config) return 1;
    for (const mk::UserConfig& u : config->users) {
        std::string addrs;
        for (const std::string& a : u.addresses) addrs += (addrs.empty() ? "" : ", ") + a;
        std::cout << fmt::format("{}\t{}\n", u.name, addrs);
    }
    return 0;
}

// print_queue - one line a message: id, size, age, sender, each recipient with its state.
void print_queue(const boost::json::array& q) {
    auto now = std::time(nullptr);
    for (const auto& v : q) {
        const auto& m = v.as_object();
        std::string rcpts;
        for (const auto& rv : m.at("recipients").as_array()) {
            const auto& r = rv.as_object();
            std::string state = r.at("status").as_string().c_str();
            if (state == "held") state = "held for ATRN";
            rcpts += fmt::format("{}{} ({}", rcpts.empty() ? "" : " ", r.at("address").as_string().c_str(), state);
            std::string last = r.at("last_reply").as_string().c_str();
            rcpts += last.empty() ? ")" : fmt::format(", {} tries: {})", r.at("attempts").to_number<long>(), last);
        }
        std::cout << fmt::format("{}  {:>8}  {:>6}s  <{}>  {}\n", m.at("id").as_string().c_str(), m.at("size").to_number<long>(),
                                 now - m.at("received_at").to_number<long>(), m.at("sender").as_string().c_str(), rcpts);
    }
    std::cout << fmt::format("-- {} message(s) in the queue\n", q.size());
}

int cmd_queue_list(const std::string& file) {
    auto config = load_or_report(file);
    if (!config) return 1;
    if (auto answer = mk::control_request(config->data_dir, "queue list")) {
        print_queue(boost::json::parse(*answer).as_array());
        return 0;
    }
    // No daemon: read the queue directory itself.
    mk::QueueListing q = mk::list_queue(config->data_dir);
    print_queue(mk::queue_view(q.entries, *config));
    for (const mk::DamagedEntry& d : q.damaged) std::cout << fmt::format("{}  DAMAGED ({})\n", d.id, d.reason);
    return q.damaged.empty() ? 0 : 1;
}

// cmd_daemon - a request that only the running daemon can answer.
int cmd_daemon(const std::string& file, const std::string& request) {
    auto config = load_or_report(file);
    if (!config) return 1;
    auto answer = mk::control_request(config->data_dir, request);
    if (!answer) {
        std::cerr << fmt::format("mailkeep: no daemon is running for {}\n", config->data_dir.string());
        return 1;
    }
    auto v = boost::json::parse(*answer).as_object();
    if (request == "status") {
        bool online = v.at("online").as_bool();
        std::int64_t since = v.at("offline_since").to_number<std::int64_t>();
        std::int64_t oldest = v.at("oldest").to_number<std::int64_t>();
        auto now = std::time(nullptr);
        std::cout << (online ? std::string("relay: online\n") : fmt::format("relay: offline since {}s ago\n", now - since));
        for (const auto& k : v.at("unreachable").as_array()) std::cout << "unreachable: " << k.as_string().c_str() << "\n";
        std::cout << fmt::format("queue: {} message(s), {} recipient(s) pending", v.at("messages").to_number<long>(),
                                 v.at("recipients_pending").to_number<long>());
        if (long held = v.at("recipients_held").to_number<long>(); held > 0)
            std::cout << fmt::format(" ({} held for ATRN)", held);
        std::cout << (oldest ? fmt::format(", oldest {}s\n", now - oldest) : std::string("\n"));
        for (const auto& av : v.at("accounts").as_array()) {
            const auto& a = av.as_object();
            std::int64_t run = a.at("last_run").to_number<std::int64_t>();
            std::int64_t ok = a.at("last_success").to_number<std::int64_t>();
            std::string err = a.at("last_error").as_string().c_str();
            std::cout << fmt::format("account {}: {}{}, last success {}, {} fetched{}\n", a.at("account").as_string().c_str(),
                                     run ? fmt::format("last run {}s ago", now - run) : std::string("not run yet"),
                                     a.at("running").as_bool() ? " (running)" : "",
                                     ok ? fmt::format("{}s ago", now - ok) : std::string("never"),
                                     a.at("fetched").to_number<long>(), err.empty() ? "" : ", last error: " + err);
        }
        for (const auto& ov : v.at("odmr").as_array()) {
            const auto& o = ov.as_object();
            std::int64_t run = o.at("last_run").to_number<std::int64_t>();
            std::int64_t ok = o.at("last_success").to_number<std::int64_t>();
            std::string err = o.at("last_error").as_string().c_str();
            std::cout << fmt::format("{} at {}: {}{}, last success {}, {} received{}\n", o.at("request").as_string().c_str(),
                                     o.at("provider").as_string().c_str(),
                                     run ? fmt::format("last run {}s ago", now - run) : std::string("not run yet"),
                                     o.at("running").as_bool() ? " (running)" : "",
                                     ok ? fmt::format("{}s ago", now - ok) : std::string("never"),
                                     o.at("received").to_number<long>(), err.empty() ? "" : ", last error: " + err);
        }
        return 0;
    }
    if (request == "odmr") {
        bool all_ok = v.at("ok").as_bool();
        for (const auto& rv : v.at("reports").as_array()) {
            const auto& r = rv.as_object();
            std::string err = r.at("error").as_string().c_str();
            std::string reply = r.at("reply").as_string().c_str();
            std::cout << fmt::format("{} at {}: {}{}{}\n", r.at("request").as_string().c_str(),
                                     r.at("provider").as_string().c_str(),
                                     reply.empty() ? std::string("no reply") : reply,
                                     r.at("request").as_string().starts_with("ATRN")
                                         ? fmt::format(", {} received", r.at("received").to_number<long>())
                                         : std::string(),
                                     err.empty() ? "" : ", error: " + err);
            all_ok = all_ok && err.empty();
        }
        if (!v.at("ok").as_bool()) std::cerr << "mailkeep: " << v.at("error").as_string().c_str() << "\n";
        return all_ok ? 0 : 1;
    }
    if (request.starts_with("fetch")) {
        for (const auto& rv : v.at("reports").as_array()) {
            const auto& r = rv.as_object();
            std::string err = r.at("error").as_string().c_str();
            std::cout << fmt::format("{}: {} delivered, {} removed on the server, {} left{}\n",
                                     r.at("account").as_string().c_str(), r.at("delivered").to_number<long>(),
                                     r.at("removed").to_number<long>(), r.at("left").to_number<long>(),
                                     err.empty() ? "" : ", error: " + err);
        }
        bool all_ok = v.at("ok").as_bool();
        for (const auto& rv : v.at("reports").as_array()) all_ok = all_ok && rv.as_object().at("error").as_string().empty();
        if (!v.at("ok").as_bool()) std::cerr << "mailkeep: " << v.at("error").as_string().c_str() << "\n";
        return all_ok ? 0 : 1;
    }
    if (!v.at("ok").as_bool()) {
        std::cerr << "mailkeep: " << v.at("error").as_string().c_str() << "\n";
        return 1;
    }
    std::cout << "ok\n";
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"mailkeep - store-and-forward mail gateway for homes and small offices"};
    app.require_subcommand(1);
    std::string data_dir = "mailkeep-data";
    std::string config_file;
    auto default_config = [&] { return config_file.empty() ? (fs::path(data_dir) / "mailkeep.toml").string() : config_file; };

    auto* serve = app.add_subcommand("serve", "run the daemon (without --config: a ready-to-use set-up in --data)");
    bool verbose = false;
    serve->add_option("--config", config_file, "config file");
    serve->add_option("--data", data_dir, "data directory for the built-in default")->capture_default_str();
    serve->add_flag("-v,--verbose", verbose, "debug logging");

    auto* check = app.add_subcommand("check-config", "validate a config file; every error as file:line");
    std::string check_file;
    check->add_option("file", check_file)->required();

    auto* passwd = app.add_subcommand("passwd", "print a crypt(3) hash of a password read from stdin");
    bool passwd_stdin = true;
    bool passwd_cram = false;
    passwd->add_flag("--stdin", passwd_stdin, "read the password from stdin (the default)");
    passwd->add_flag("--cram-md5", passwd_cram,
                     "print the CRAM-MD5 secret instead ([[user]] cram_md5; as doveadm pw -s CRAM-MD5)");

    auto* user = app.add_subcommand("user", "manage users in the config file");
    user->require_subcommand(1);
    auto* user_add = user->add_subcommand("add", "add a user");
    std::string user_name;
    std::vector<std::string> user_addresses;
    bool password_stdin = false;
    user_add->add_option("name", user_name)->required();
    user_add->add_option("--address", user_addresses, "an address (repeatable)")->required();
    user_add->add_flag("--password-stdin", password_stdin, "read the password from stdin (else one is generated)");
    auto* user_list = user->add_subcommand("list", "list users");
    for (auto* sub : {user_add, user_list}) {
        sub->add_option("--config", config_file, "config file (default: DATA/mailkeep.toml)");
        sub->add_option("--data", data_dir, "data directory");
    }

    auto* queue = app.add_subcommand("queue", "inspect the queue");
    queue->require_subcommand(1);
    auto* queue_list = queue->add_subcommand("list", "list queued messages");
    auto* queue_flush = queue->add_subcommand("flush", "try every queued message now");
    auto* queue_remove = queue->add_subcommand("remove", "drop a message from the queue");
    std::string queue_id;
    queue_remove->add_option("id", queue_id)->required();
    auto* status = app.add_subcommand("status", "the running daemon: relay online state, queue size, oldest message, accounts");
    auto* fetch = app.add_subcommand("fetch", "collect from the provider accounts now (all, or ACCOUNT) and say what was done");
    std::string fetch_account;
    fetch->add_option("account", fetch_account);
    auto* odmr = app.add_subcommand("odmr", "pull our domains' mail from the ODMR provider (ATRN) and send each "
                                            "[[etrn]] now; say what arrived");
    for (auto* sub : {queue_list, queue_flush, queue_remove, status, fetch, odmr}) {
        sub->add_option("--config", config_file, "config file (default: DATA/mailkeep.toml)");
        sub->add_option("--data", data_dir, "data directory");
    }

    CLI11_PARSE(app, argc, argv);

    if (*serve) return cmd_serve(config_file, data_dir, verbose);
    if (*check) return cmd_check(check_file);
    if (*passwd) {
        std::string pw = read_password_stdin();
        if (pw.empty()) {
            std::cerr << "mailkeep: empty password\n";
            return 1;
        }
        if (passwd_cram) std::cout << mk::kCramMd5Prefix << mk::cram_md5_hex(mk::cram_md5_context(pw)) << "\n";
        else std::cout << mk::hash_password(pw) << "\n";
        return 0;
    }
    if (*user_add) return cmd_user_add(default_config(), user_name, user_addresses, password_stdin);
    if (*user_list) return cmd_user_list(default_config());
    if (*queue_list) return cmd_queue_list(default_config());
    if (*queue_flush) return cmd_daemon(default_config(), "queue flush");
    if (*queue_remove) return cmd_daemon(default_config(), "queue remove " + queue_id);
    if (*status) return cmd_daemon(default_config(), "status");
    if (*fetch) return cmd_daemon(default_config(), fetch_account.empty() ? "fetch" : "fetch " + fetch_account);
    if (*odmr) return cmd_daemon(default_config(), "odmr");
    return 1;
}
