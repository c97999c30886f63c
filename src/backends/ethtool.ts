/**
 * TX checksum offload of an interface, as `ethtool -K IF tx off` sets it,
 * without ethtool (not installed here): the legacy SIOCETHTOOL commands
 * ETHTOOL_GTXCSUM / ETHTOOL_STXCSUM with a struct ethtool_value
 * { __u32 cmd; __u32 data; } that ifr_data points at. The kernel maps them
 * onto the device's features: off clears every checksum feature
 * (NETIF_F_CSUM_MASK), which also drops what depends on it (TSO).
 *
 * Why it matters: a veth with TX checksum offload on hands its peer
 * TCP/UDP packets whose checksum is left for "the hardware" to fill in
 * (CHECKSUM_PARTIAL). A kernel bridge keeps that state, but a switch that
 * reads frames from an AF_PACKET socket and writes them out again
 * (BMv2, its stand-in) sends them with the checksum never computed, and
 * the receiving host drops them. ICMP is computed in software either way,
 * which is why ping works through such a switch while TCP does not.
 */
import koffi from 'koffi';
import { IFR_UNION, ifreq, ifreqFailure, withIfSocket } from './ifreq.js';
import { lastErrno, sys } from './libc.js';

const SIOCETHTOOL = 0x8946;
export const ETHTOOL_GTXCSUM = 0x16;
export const ETHTOOL_STXCSUM = 0x17;

/** One ETHTOOL_* command taking or giving a struct ethtool_value; returns its data field. */
function ethtoolValue(netns: string | undefined, ifname: string, cmd: number, data: number): number {
  const req = ifreq(ifname);
  // ifr_data is a pointer: the value lives in memory koffi allocated, whose address goes into the ifreq.
  const value = koffi.alloc('uint32_t', 2);
  try {
    const view = Buffer.from(koffi.view(value, 8));
    view.writeUInt32LE(cmd, 0);
    view.writeUInt32LE(data, 4);
    req.writeBigUInt64LE(BigInt(koffi.address(value)), IFR_UNION);
    return withIfSocket(netns, (fd) => {
      if (sys.ioctl(fd, SIOCETHTOOL, 'void *', req) !== 0) {
        ifreqFailure(cmd === ETHTOOL_STXCSUM ? 'ETHTOOL_STXCSUM' : 'ETHTOOL_GTXCSUM', ifname, netns, lastErrno());
      }
      return view.readUInt32LE(4);
    });
  } finally {
    koffi.free(value);
  }
}

/** Whether TX checksum offload is on (`ethtool -k IF` tx-checksumming), in namespace `netns`. */
export function getTxChecksum(netns: string | undefined, ifname: string): boolean {
  return ethtoolValue(netns, ifname, ETHTOOL_GTXCSUM, 0) !== 0;
}

/** Turns TX checksum offload on or off (`ethtool -K IF tx on|off`), in namespace `netns`. */
export function setTxChecksum(netns: string | undefined, ifname: string, on: boolean): void {
  ethtoolValue(netns, ifname, ETHTOOL_STXCSUM, on ? 1 : 0);
}
