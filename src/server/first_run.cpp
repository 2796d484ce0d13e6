// server/first_run.cpp — the first start on a fresh machine: config, certificate, postmaster.
#include "server/first_run.hpp"

#include <iostream>
#include <stdexcept>

#include <fmt/format.h>

#include "core/config_edit.hpp"
#include "core/durable.hpp"
#include "core/password.hpp"
#include "net/tls.hpp"

namespace mk {

namespace fs = std::filesystem;

fs::path prepare_data_dir(const fs::path& dir) {
    fs::path data_dir = fs::absolute(dir);
    fs::path file = data_dir / "mailkeep.toml";
    if (!fs::exists(file)) {
        make_dir_durable(data_dir);
        std::string password = random_password();
        UserConfig pm;
        pm.name = "postmaster";
        pm.password_hash = hash_password(password);
        pm.addresses = {"postmaster@home.arpa"};
        std::string text = default_config_text(data_dir) + "\n" + user_block(pm);
        auto check = parse_config(text, file.string());
        if (!check.errors.empty()) throw std::runtime_error("built-in default config is invalid: " + check.errors[0].to_string());
        write_self_signed(check.config->resolve(check.config->tls_cert), check.config->resolve(check.config->tls_key),
                          check.config->hostname);
        write_file_durable(file, text);
        std::cout << fmt::format("mailkeep: created {}\n", file.string())
                  << fmt::format("mailkeep: user postmaster (postmaster@home.arpa), password: {}\n", password)
                  << "mailkeep: this password is shown only once; change it with `mailkeep passwd`.\n"
                  << std::flush;
    }
    return file;
}

}  // namespace mk
