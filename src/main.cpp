// main.cpp — the mailkeep command line: serve, check-config, passwd, user, queue.
#include <iostream>
#include <string>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "core/config.hpp"
#include "core/config_edit.hpp"
#include "core/log.hpp"
#include "core/password.hpp"
#include "server/daemon.hpp"
#include "server/first_run.hpp"
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
    std::shared_ptr<mk::Config> config;
    try {
        config = config_file.empty() ? mk::prepare_data_dir(data_dir) : load_or_report(config_file);
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

int cmd_queue_list(const std::string& file) {
    auto config = load_or_report(file);
    if (!config) return 1;
    mk::QueueListing q = mk::list_queue(config->data_dir);
    auto now = std::time(nullptr);
    for (const mk::QueueEntry& e : q.entries) {
        std::string rcpts;
        for (const mk::QueuedRecipient& r : e.envelope.remote) rcpts += (rcpts.empty() ? "" : " ") + r.address;
        std::cout << fmt::format("{}  {:>8}  {:>6}s  <{}>  {}\n", e.envelope.id, e.size, now - e.envelope.received_at,
                                 e.envelope.sender, rcpts);
    }
    for (const std::string& d : q.damaged) std::cout << fmt::format("{}  DAMAGED (envelope unreadable)\n", d);
    std::cout << fmt::format("-- {} message(s) in the queue\n", q.entries.size());
    return q.damaged.empty() ? 0 : 1;
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
    passwd->add_flag("--stdin", passwd_stdin, "read the password from stdin (the default)");

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
    queue_list->add_option("--config", config_file, "config file");
    queue_list->add_option("--data", data_dir, "data directory");

    CLI11_PARSE(app, argc, argv);

    if (*serve) return cmd_serve(config_file, data_dir, verbose);
    if (*check) return cmd_check(check_file);
    if (*passwd) {
        std::string pw = read_password_stdin();
        if (pw.empty()) {
            std::cerr << "mailkeep: empty password\n";
            return 1;
        }
        std::cout << mk::hash_password(pw) << "\n";
        return 0;
    }
    if (*user_add) return cmd_user_add(default_config(), user_name, user_addresses, password_stdin);
    if (*user_list) return cmd_user_list(default_config());
    if (*queue_list) return cmd_queue_list(default_config());
    return 1;
}
