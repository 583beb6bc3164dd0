/**
 * Pieces of SIPp scenarios the benches write (bench/calls.ts, bench/registrar.ts): one REGISTER
 * exchange and one G.711 µ-law SDP body, instead of each bench spelling them out twice.
 */

/**
 * SIPp's SDP for one G.711 µ-law stream (its `[media_ip]` and `[media_port]`), the `o=` line
 * naming `origin`; for an INVITE's offer or a 200's answer. Indented as the CDATA it goes in.
 */
export const pcmuSdp = (origin: string) => `      v=0
      o=${origin} 1 1 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio [media_port] RTP/AVP 0
      a=rtpmap:0 PCMU/8000`;

export interface RegisterExchange {
  /** The user of From, To and Contact: a DN, or a SIPp injection field (`[field1]`). */
  user: string;
  /** The From tag (SIPp keywords allowed). */
  tag: string;
  /** Contact parameters after `transport=tcp>` (a Cisco phone's `;+sip.instance=…`). */
  contactParams?: string;
  /** The digest line of the second REGISTER (`[authentication]` or with username/password): the exchange then expects a 401 first. */
  authentication?: string;
}

const registerSend = (r: RegisterExchange, cseq: number, auth: string | undefined) => `
  <send>
    <![CDATA[

      REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:${r.user}@[remote_ip]>;tag=${r.tag}
      To: <sip:${r.user}@[remote_ip]>
      Call-ID: [call_id]
      CSeq: ${cseq} REGISTER
      Contact: <sip:${r.user}@[local_ip]:[local_port];transport=tcp>${r.contactParams ?? ''}${auth ? `\n      ${auth}` : ''}
      Max-Forwards: 70
      Expires: 3600
      Content-Length: 0

    ]]>
  </send>
`;

/** REGISTER (Expires 3600, over TCP), then — with `authentication` — the 401 and the REGISTER that answers it, then the 200. */
export const registerExchange = (r: RegisterExchange) =>
  registerSend(r, 1, undefined)
  + (r.authentication ? `
  <recv response="401" auth="true"/>
${registerSend(r, 2, r.authentication)}` : '')
  + `
  <recv response="200"/>
`;
