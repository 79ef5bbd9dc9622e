import { installExpiredCertificate } from '../tls';
import { runCommand } from '../processes';
import { ScenarioDidNotTakeError, type ScenarioRun } from './types';

/** What a client that trusts the lab CA sees after STARTTLS on the IMAP port: openssl's verdict on the chain. */
export async function imapCertificateVerdict(port: number, caFile: string): Promise<string> {
  const handshake = await runCommand(
    ['openssl', 's_client', '-starttls', 'imap', '-connect', `127.0.0.1:${port}`, '-CAfile', caFile, '-brief'],
    { timeoutMs: 15_000 },
  );
  return (
    /verify error:[^\n]*|Verification( error)?: [^\n]*/.exec(handshake.output)?.[0] ?? handshake.output.slice(0, 200)
  );
}

/** A certificate nobody renewed: Postfix and Dovecot present one that expired yesterday, signed by the lab CA. */
export const tlsCertExpired: ScenarioRun = async ({ layout, settings }, record) => {
  const validity = await installExpiredCertificate(layout);
  record(`install a server certificate valid until ${validity.notAfter.toISOString()} and reload Postfix and Dovecot`);
  const verdict = await imapCertificateVerdict(settings.ports.imap, layout.tlsCaCert);
  record(`openssl s_client -starttls imap: ${verdict}`);
  if (!/expired/i.test(verdict)) throw new ScenarioDidNotTakeError('tls-cert-expired', `openssl said "${verdict}"`);
};
