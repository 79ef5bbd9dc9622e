import net from 'node:net';
import tls from 'node:tls';
import type { CertificateSummary } from '../workflows/messages';
import { LineReader, ProbeFailure, type Conversation } from './probe-wire';

const DAY_MS = 24 * 60 * 60_000;

/** Which CAs a mail server's certificate must chain to: a private CA's PEM text, or the system CAs. */
export interface TlsTrust {
  /** PEM text of the CA file; absent means the system CAs. */
  ca?: string;
  /** Names the trust anchor in details: the CA file's path, or `the system CAs`. */
  source: string;
}

/**
 * The handshake never refuses a certificate, so the probe can read it and say exactly what is wrong with it; the
 * verdict comes from `checkCertificate`.
 */
export function tlsOptions(host: string, trust: TlsTrust): tls.ConnectionOptions {
  return {
    ...(net.isIP(host) === 0 ? { servername: host } : {}),
    ...(trust.ca !== undefined ? { ca: trust.ca } : {}),
    rejectUnauthorized: false,
  };
}

/** Runs the TLS handshake over the conversation's socket after a STARTTLS, and talks TLS from then on. */
export async function upgradeToTls(conversation: Conversation, host: string, trust: TlsTrust): Promise<void> {
  conversation.stage = 'the TLS handshake';
  conversation.lines.detach();
  const secure = tls.connect({ socket: conversation.socket, ...tlsOptions(host, trust) });
  const lines = new LineReader(secure);
  conversation.socket = secure;
  conversation.lines = lines;
  await new Promise<void>((resolve, reject) => {
    secure.once('secureConnect', resolve);
    secure.once('error', (error: NodeJS.ErrnoException) =>
      reject(new ProbeFailure('TLS_HANDSHAKE_FAILED', `TLS handshake failed: ${error.message}`)),
    );
  });
}

/** `CN=mx.example.org, O=Example` from a certificate's subject or issuer. */
function distinguishedName(name: tls.Certificate | undefined): string {
  if (!name) return 'unknown';
  return Object.entries(name)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : String(value)}`)
    .join(', ');
}

export function summarizeCertificate(
  service: CertificateSummary['service'],
  peer: tls.PeerCertificate,
  now: Date,
): CertificateSummary {
  const validTo = new Date(peer.valid_to);
  return {
    service,
    subject: distinguishedName(peer.subject),
    issuer: distinguishedName(peer.issuer),
    validTo: validTo.toISOString(),
    daysLeft: Math.floor((validTo.getTime() - now.getTime()) / DAY_MS),
  };
}

interface CertificateProblem {
  errorCode: string;
  text: string;
}

function dateProblems(peer: tls.PeerCertificate, now: Date): CertificateProblem[] {
  const validFrom = new Date(peer.valid_from);
  const validTo = new Date(peer.valid_to);
  if (now > validTo) return [{ errorCode: 'CERT_EXPIRED', text: `certificate expired on ${validTo.toISOString()}` }];
  if (now < validFrom) {
    return [{ errorCode: 'CERT_NOT_YET_VALID', text: `certificate is not valid before ${validFrom.toISOString()}` }];
  }
  return [];
}

/** The first certificate above the server's own that has expired, when OpenSSL says the chain holds one. */
function expiredIssuer(peer: tls.DetailedPeerCertificate, now: Date): CertificateProblem[] {
  for (let cert = peer.issuerCertificate; cert && cert !== cert.issuerCertificate; cert = cert.issuerCertificate) {
    const validTo = new Date(cert.valid_to);
    if (now > validTo) {
      const text = `issuing certificate ${distinguishedName(cert.subject)} expired on ${validTo.toISOString()}`;
      return [{ errorCode: 'CERT_EXPIRED', text }];
    }
  }
  return [];
}

function trustProblems(
  socket: tls.TLSSocket,
  peer: tls.DetailedPeerCertificate,
  trust: TlsTrust,
  now: Date,
): CertificateProblem[] {
  if (socket.authorized) return [];
  const reason = String(socket.authorizationError ?? 'unknown reason');
  // Date errors are reported from the dates themselves, which also name the date.
  if (reason === 'CERT_NOT_YET_VALID') return [];
  if (reason === 'CERT_HAS_EXPIRED') return dateProblems(peer, now).length > 0 ? [] : expiredIssuer(peer, now);
  return [
    {
      errorCode: 'CERT_UNTRUSTED',
      text: `certificate is not trusted (${reason}): issued by ${distinguishedName(peer.issuer)}, which does not chain to ${trust.source}`,
    },
  ];
}

function nameProblems(host: string, peer: tls.PeerCertificate): CertificateProblem[] {
  const mismatch = tls.checkServerIdentity(host, peer);
  return mismatch
    ? [{ errorCode: 'CERT_NAME_MISMATCH', text: `certificate does not name ${host}: ${mismatch.message}` }]
    : [];
}

export interface CertificateCheck {
  summary: CertificateSummary;
  /** What the check's detail says when the certificate is fine. */
  detail: string;
}

/**
 * Judges the certificate the server presented: validity dates, chain to `trust`, and `host` as its name (IP SANs for
 * an IP). A bad certificate throws a ProbeFailure whose detail names every problem found.
 */
export function checkCertificate(
  socket: tls.TLSSocket,
  host: string,
  service: CertificateSummary['service'],
  trust: TlsTrust,
  now: Date,
): CertificateCheck {
  const peer = socket.getPeerCertificate(true);
  if (!peer || Object.keys(peer).length === 0) {
    throw new ProbeFailure('NO_CERTIFICATE', 'the server presented no certificate');
  }
  const summary = summarizeCertificate(service, peer, now);
  const problems = [
    ...dateProblems(peer, now),
    ...trustProblems(socket, peer, trust, now),
    ...nameProblems(host, peer),
  ];
  const first = problems[0];
  if (first) {
    const texts = problems.map((problem) => problem.text).join('; ');
    throw new ProbeFailure(first.errorCode, `${texts} (${summary.subject}, issued by ${summary.issuer})`);
  }
  const protocol = socket.getProtocol() ?? 'TLS';
  return {
    summary,
    detail: `${protocol}, ${summary.subject} issued by ${summary.issuer}, valid until ${summary.validTo} (${summary.daysLeft} days left)`,
  };
}
