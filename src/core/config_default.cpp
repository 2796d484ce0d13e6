// core/config_default.cpp — the commented mailkeep.toml that the first run writes: every section, its
// keys and their defaults, most of them commented out.
#include "core/config.hpp"

namespace mk {

namespace fs = std::filesystem;

std::string default_config_text(const fs::path& data_dir) {
    return R"TOML(# mailkeep.toml — configuration of the mailkeep mail gateway, read at start and on SIGHUP.
# Relative paths are relative to this file's directory, except the [tls] files and ca_file (relative
# to data_dir).

hostname = "mail.home.arpa"          # the name in the SMTP greeting and in Received: lines
data_dir = )TOML" + toml_quote(data_dir.string()) +
           R"TOML(   # mailboxes, queue, state database, TLS files
local_domains = ["home.arpa"]        # mail for these domains is kept here; other mail is forwarded
postmaster = "postmaster@home.arpa"  # must reach a user, an alias or the catch_all
trusted_networks = ["127.0.0.0/8", "::1/128"]   # CIDR list of clients allowed to relay
# run_as = "mailkeep"                # drop root to this account after binding the ports
# catch_all = "postmaster"           # a user name: unknown local recipients go there

[listen]
# Each a list of "address:port" ("[::1]:25" for IPv6); an empty list turns the service off.
smtp = ["127.0.0.1:2525"]            # incoming mail (port 25 in production)
submission = ["127.0.0.1:2587"]      # clients sending, STARTTLS + AUTH (587)
submissions = ["127.0.0.1:2465"]     # clients sending, implicit TLS + AUTH (465)
pop3 = ["127.0.0.1:2110"]            # clients reading, STLS (110)
pop3s = ["127.0.0.1:2995"]           # clients reading, implicit TLS (995)
imap = ["127.0.0.1:2143"]            # clients reading and filing, STARTTLS (143)
imaps = ["127.0.0.1:2993"]           # clients reading and filing, implicit TLS (993)
# odmr = ["127.0.0.1:2366"]          # sites pulling held mail with ATRN (366); see [[odmr.hold]]

[tls]
cert = "tls/cert.pem"                # relative to data_dir
key = "tls/key.pem"

[limits]
max_message_size = "25M"             # bytes, or with K, M, G (binary multiples)
max_recipients = 100                 # per message
max_connections = 200                # in total
max_connections_per_ip = 20
max_imap_sessions_per_user = 50      # IMAP logins of one user at once (a phone idles on each folder)

# Users: `mailkeep user add NAME --address A --password-stdin` appends one; by hand:
# [[user]]
# name = "anna"                      # [a-z0-9._-]+
# password = "$y$..."                # crypt(3) hash
# addresses = ["anna@home.arpa"]     # in a local domain, each used once
# forward_to = []                    # also send to these addresses
# keep_copy = true                   # with forward_to: keep a copy in the own mailbox too
#
# [[alias]]
# address = "family@home.arpa"
# to = ["anna", "ben"]               # user names or full addresses

# Collecting mail from providers, one [[account]] per provider mailbox; checked every interval.
# [[account]]
# name = "anna-provider"             # [a-z0-9._-]+, unique: names the account in `mailkeep status`
# protocol = "imaps"                 # "pop3s" | "imaps" (TLS from the start) | "pop3" | "imap" with
#                                    # starttls = true; without TLS only to a loopback address, or
#                                    # with allow_plaintext = true (the password then travels in clear)
# host = "imap.provider.example"
# port = 993                         # default 110/995/143/993 by protocol
# tls_verify = true                  # check the certificate: system CA store, or
# ca_file = "tls/provider-ca.pem"    # a PEM file for a private CA (relative to data_dir)
# username = "anna.schmidt@provider.example"
# password_command = "pass show anna-provider"   # or password = "...", or oauth2_token_command = "..."
# mailbox = "single"                 # everything to one user (see "multidrop" below)
# deliver_to = "anna"                # that user
# keep = "7d"                        # "delete" | "forever" (the default) | delete this long after fetching
# max_per_cycle = 100                # messages per cycle; the rest follow in the next
# max_size = "50M"                   # larger ones stay on the provider; the user is told once
# timeout = "60s"                    # give up after this long without a byte from the server
# interval = "10m"                   # how often to look for new mail
# folders = ["INBOX"]                # IMAP only
# idle = true                        # IMAP only: new mail at once where the server offers IDLE
#
# One collective mailbox for a whole domain, each message given to the local users it is for:
# [[account]]
# name = "family"
# protocol = "pop3s"
# host = "pop.provider.example"
# username = "family@provider.example"
# password = "secret"
# mailbox = "multidrop"
# envelope_header = "auto"           # or the header naming the recipient, such as "X-Original-To"
# unknown_to = "postmaster"          # the user who gets mail for unknown local recipients
#
# [fetch]
# on_login = true                    # a POP3/IMAP login of a user whose accounts are stale...
# stale_after = "5m"
# login_wait = "5s"                  # ...fetches them first, waiting at most this long

# Outbound mail. Without [relay] it goes straight to each recipient domain's MX ("direct"); from a
# home connection most receivers refuse that, so name the provider's server as the smarthost:
# [relay]
# mode = "smarthost"                 # "smarthost" | "direct" (MX lookup, the default)
# host = "smtp.provider.example"
# port = 587                         # default: 587 for starttls, 465 for implicit, 25 for none
# tls = "starttls"                   # "starttls" | "implicit" | "none"
# tls_verify = true                  # check the certificate: system CA store, or
# ca_file = "tls/provider-ca.pem"    # a PEM file for a private CA (relative to data_dir)
# username = "home@provider.example"
# password_command = "pass show provider"   # or password = "...", or oauth2_token_command = "..."
# retry = ["5m", "15m", "1h", "4h"]  # waits between attempts; the last one repeats
# warn_after = "4h"                  # then the sender is told the mail is delayed (once)
# give_up_after = "5d"               # then it is returned to the sender; longer than warn_after
# probe_interval = "60s"             # while mail waits: how often to check the next hop is reachable
#
# A member sending through her own provider account, as her provider address (SPF, DMARC pass):
# [[relay.sender]]
# address = "anna@home.arpa"         # an address of a [[user]]
# rewrite_from = "anna.schmidt@provider.example"   # the envelope sender and From: outbound
# host = "mail.provider.example"
# port = 465
# tls = "implicit"
# username = "anna.schmidt@provider.example"
# password_command = "pass show anna-provider"
#
# Mail for one domain through a host of its own:
# [[route]]
# domain = "example.com"
# host = "mx.partner.example"
# port = 25                          # default 25 (465 with tls = "implicit")
#
# The MX of a site with a dynamic address (On-Demand Mail Relay, RFC 2645): its mail is accepted,
# held, and handed over when the site connects to the odmr listener and says ATRN:
# [[odmr.hold]]
# domain = "customer.example"
# user = "anna"                      # who may pull it; her cram_md5 = `mailkeep passwd --cram-md5`

# Where mail for local users goes:
# [delivery]
# mode = "maildir"                   # "maildir" (the default) | "lmtp" | "smtp" (a downstream server)
# host = "127.0.0.1"                 # for lmtp and smtp
# port = 24                          # default 24 (25 for smtp)
)TOML";
}

}  // namespace mk
