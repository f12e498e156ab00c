/** ICMP type names accepted by Cilium's `icmps[].fields[].type` (policy-semantics §6). */

const V4: Record<string, number> = {
  EchoReply: 0, DestinationUnreachable: 3, Redirect: 5, Echo: 8, EchoRequest: 8,
  RouterAdvertisement: 9, RouterSelection: 10, TimeExceeded: 11, ParameterProblem: 12,
  Timestamp: 13, TimestampReply: 14, Photuris: 40, ExtendedEchoRequest: 42, ExtendedEchoReply: 43,
};

const V6: Record<string, number> = {
  DestinationUnreachable: 1, PacketTooBig: 2, TimeExceeded: 3, ParameterProblem: 4,
  EchoRequest: 128, EchoReply: 129, MulticastListenerQuery: 130, MulticastListenerReport: 131,
  MulticastListenerDone: 132, RouterSolicitation: 133, RouterAdvertisement: 134,
  NeighborSolicitation: 135, NeighborAdvertisement: 136, RedirectMessage: 137,
  RouterRenumbering: 138, ICMPNodeInformationQuery: 139, ICMPNodeInformationResponse: 140,
  InverseNeighborDiscoverySolicitation: 141, InverseNeighborDiscoveryAdvertisement: 142,
  HomeAgentAddressDiscoveryRequest: 144, HomeAgentAddressDiscoveryReply: 145,
  MobilePrefixSolicitation: 146, MobilePrefixAdvertisement: 147, DuplicateAddressRequestCodeSuffix: 157,
  DuplicateAddressConfirmationCodeSuffix: 158, ExtendedEchoRequest: 160, ExtendedEchoReply: 161,
};

export function icmpType(v: unknown, family: 'IPv4' | 'IPv6'): number | null {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 255 ? v : null;
  if (typeof v !== 'string') return null;
  if (/^\d+$/.test(v)) return Number(v) <= 255 ? Number(v) : null;
  const t = (family === 'IPv4' ? V4 : V6)[v];
  return t ?? null;
}
