"""Sans-IO banner grabbing (``--banners``): protocol identification and one parser per protocol.

The TCP stack drives a ``BannerSession`` per connection (session.py); the session identifies the
protocol from the server's bytes (identify.py), picks the hello for the port (registry.py) and
runs the parsers (http, tls, ssh, ftp, smtp, pop3, imap, vnc, telnet, rdp, smb, memcached,
redis).  Start with base.py: the interface, the actions and the rules every parser follows.
"""

from .base import (Action, Banner, BannerConfig, Close, Parser, Send, Upgrade,
                   DEFAULT_MAX_BANNER)
from .registry import PARSERS, hello_for, make_parser
from .session import BannerSession

__all__ = ["Action", "Banner", "BannerConfig", "BannerSession", "Close", "DEFAULT_MAX_BANNER",
           "PARSERS", "Parser", "Send", "Upgrade", "hello_for", "make_parser"]
