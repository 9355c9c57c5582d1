"""Interactive lines on the terminal (the default when no `-o` is given), as masscan prints them.

    Discovered open port 80/tcp on 10.0.0.1
    Banner on port 80/tcp on 10.0.0.1: [title] Welcome \\x26 \\x3chi\\x3e
    Discovered up port 0/arp on 10.0.0.9 (00:0c:29:33:44:55) VMware

Each line is padded with spaces to 79 columns so it fully overwrites the `rate: ... done`
status line that shares the terminal.  ARP results add the MAC and a vendor from masscan's small
built-in OUI list.  Every record is flushed at once: a human is watching.
"""

from __future__ import annotations

from tidescan.output.apps import app_display
from tidescan.output.base import Writer
from tidescan.output.record import Record, proto_display
from tidescan.output.text import escape_x

# masscan's `oui_from_mac()` table (output.c).
OUI_VENDORS: dict[int, str] = {
    0x0001C0: "Compulab", 0x000732: "Aaeon", 0x00089B: "ICPelec", 0x000C29: "VMware",
    0x001075: "Seagate", 0x001132: "Synology", 0x022618: "Asus", 0x0022B0: "D-Link",
    0x00236C: "Apple", 0x0016CB: "Apple", 0x001E06: "Odroid", 0x001FF3: "Apple",
    0x002590: "Supermicro", 0x04421A: "Asus", 0x08CC68: "Cisco", 0x0C9D92: "Asus",
    0x244BFE: "Asus", 0x244CE3: "Amazon", 0x28CDC1: "RPi 22-02", 0x2C27D7: "HP",
    0x3497F6: "Asus", 0x38F73D: "Amazon", 0x3A3541: "RPi 19-12", 0x3C22FB: "Apple",
    0x404A03: "Zyxel", 0x4C9EFF: "Zyxel", 0x5855CA: "Apple", 0x60A44C: "Asus",
    0x640BD7: "Apple", 0x6C72E7: "Apple", 0x8C3BAD: "Netgear", 0x9003B7: "Parrot",
    0x9009D0: "Synology", 0x94A408: "Trolink", 0x94DBC9: "Azurewave", 0xA0CEC8: "CeLink",
    0xACBC32: "Apple", 0xB827EB: "RPi 12-03", 0xC05627: "Belkin", 0xC0C1C0: "Cisco-Linksys",
    0xD83ADD: "RPi 22-11", 0xDCA4CA: "Apple", 0xDCA632: "RPi 19-03", 0xE45F01: "RPi 20-07",
    0xE4956E: "[random]", 0xFCECDA: "Ubiquiti",
}


def _pad(line: str) -> str:
    n = len(line)
    return line + " " * (79 - n) + "\n" if n < 80 else line + "\n"


class InteractiveWriter(Writer):
    name = "interactive"
    always_flush = True

    def _status(self, rec: Record) -> str:
        ip = rec.ip_text
        line = f"Discovered {rec.status} port {rec.port}/{proto_display(rec.proto)} on {ip}"
        if rec.proto == "arp":
            mac = rec.mac or bytes(6)
            vendor = OUI_VENDORS.get(int.from_bytes(mac[:3], "big"), "")
            line += f" ({':'.join(f'{b:02x}' for b in mac)}) {vendor}"
        return _pad(line)

    def _banner(self, rec: Record) -> str:
        ip = rec.ip_text
        return _pad(f"Banner on port {rec.port}/{proto_display(rec.proto)} on {ip}: "
                    f"[{app_display(rec.app)}] {escape_x(rec.banner)}")
