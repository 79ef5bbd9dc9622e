import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { LAB_DOMAIN, type LabLayout } from './layout';
import { requireLabTools } from './prerequisites';
import { LOOPBACK, runOrThrow } from './processes';

const DAY_MS = 24 * 60 * 60_000;
/** The name the lab's mail server goes by; the certificate also names the loopback address the config uses. */
export const LAB_MAIL_HOST = `mx.${LAB_DOMAIN}`;
const CA_SUBJECT = '/CN=mailmend lab CA';
const CA_VALIDITY_DAYS = 3650;
const SERVER_VALIDITY_DAYS = 365;

/** `openssl ca` with start and end dates is what openssl 3.0 offers for a certificate valid in the past. */
function opensslConfig(layout: LabLayout): string {
  return `# The mailmend lab's private CA, written by \`mailmend lab up\`.
[req]
distinguished_name = req_dn
prompt = no
x509_extensions = lab_ca

[req_dn]
CN = unused

[lab_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash

[ca]
default_ca = lab

[lab]
database = ${path.join(layout.tlsCaDatabaseDir, 'index.txt')}
new_certs_dir = ${layout.tlsCaDatabaseDir}
serial = ${path.join(layout.tlsCaDatabaseDir, 'serial')}
default_md = sha256
policy = any_name
unique_subject = no
copy_extensions = none

[any_name]
commonName = supplied

[server_cert]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:${LAB_MAIL_HOST}, DNS:localhost, IP:${LOOPBACK}
authorityKeyIdentifier = keyid
`;
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

/** The CA is kept across `lab up`s, so a mailmend config that trusts it keeps working. */
async function ensureLabCa(layout: LabLayout): Promise<void> {
  await mkdir(layout.tlsCaDatabaseDir, { recursive: true, mode: 0o700 });
  await writeFile(layout.tlsCaConfig, opensslConfig(layout));
  const index = path.join(layout.tlsCaDatabaseDir, 'index.txt');
  if (!existsSync(index)) await writeFile(index, '');
  await writeFile(path.join(layout.tlsCaDatabaseDir, 'serial'), `${randomBytes(16).toString('hex')}\n`);
  if (existsSync(layout.tlsCaCert) && existsSync(layout.tlsCaKey)) return;
  await runOrThrow(
    ['openssl', 'req', '-x509', ...EC_KEY, '-config', layout.tlsCaConfig, '-subj', CA_SUBJECT].concat([
      '-days',
      String(CA_VALIDITY_DAYS),
      '-keyout',
      layout.tlsCaKey,
      '-out',
      layout.tlsCaCert,
    ]),
    "creating the lab's CA",
  );
  await chmod(layout.tlsCaKey, 0o600);
  await chmod(layout.tlsCaCert, 0o644);
}

/** `20260101120000Z`, the GeneralizedTime `openssl ca -startdate/-enddate` reads. */
function asn1Time(time: Date): string {
  return `${time.toISOString().slice(0, 19).replace(/[-:T]/g, '')}Z`;
}

export interface CertificateValidity {
  notBefore: Date;
  notAfter: Date;
}

/**
 * Issues a server certificate from the lab CA valid from `notBefore` to `notAfter`, and puts it and its new key in
 * place of the live ones; each file is renamed into place, so a daemon never reads half of one.
 */
export async function issueServerCertificate(layout: LabLayout, validity: CertificateValidity): Promise<void> {
  const staged = (file: string) => `${file}.new`;
  const request = path.join(layout.tlsDir, 'server.csr');
  await runOrThrow(
    ['openssl', 'req', '-new', ...EC_KEY, '-config', layout.tlsCaConfig, '-subj', `/CN=${LAB_MAIL_HOST}`].concat([
      '-keyout',
      staged(layout.tlsServerKey),
      '-out',
      request,
    ]),
    'creating the lab server key and certificate request',
  );
  await runOrThrow(
    ['openssl', 'ca', '-batch', '-notext', '-config', layout.tlsCaConfig, '-extensions', 'server_cert']
      .concat(['-cert', layout.tlsCaCert, '-keyfile', layout.tlsCaKey, '-in', request])
      .concat(['-startdate', asn1Time(validity.notBefore), '-enddate', asn1Time(validity.notAfter)])
      .concat(['-out', staged(layout.tlsServerCert)]),
    'signing the lab server certificate',
  );
  await rm(request);
  await chmod(staged(layout.tlsServerKey), 0o600);
  await chmod(staged(layout.tlsServerCert), 0o644);
  await rename(staged(layout.tlsServerKey), layout.tlsServerKey);
  await rename(staged(layout.tlsServerCert), layout.tlsServerCert);
}

/**
 * The lab's CA (kept if it exists) and a fresh server certificate valid for a year, which Postfix and Dovecot
 * present on STARTTLS and mailmend checks against the CA.
 */
export async function writeLabCertificates(layout: LabLayout, now = new Date()): Promise<void> {
  await mkdir(layout.tlsDir, { recursive: true, mode: 0o755 });
  await ensureLabCa(layout);
  await issueServerCertificate(layout, {
    notBefore: new Date(now.getTime() - DAY_MS),
    notAfter: new Date(now.getTime() + SERVER_VALIDITY_DAYS * DAY_MS),
  });
}

/** Makes the running Postfix and Dovecot read the certificate files again. */
async function reloadTlsServices(layout: LabLayout): Promise<void> {
  const tools = requireLabTools();
  await runOrThrow([tools.postfix, '-c', layout.postfixConfigDir, 'reload'], 'reloading Postfix');
  await runOrThrow([tools.doveadm, '-c', layout.dovecotConfig, 'reload'], 'reloading Dovecot');
}

/**
 * Replaces the live server certificate with one the lab CA signed that expired yesterday, as a certificate nobody
 * renewed, and reloads Postfix and Dovecot. `labHeal` puts the good one back.
 *
 * @example await installExpiredCertificate(labLayout('.mailmend/lab'));
 */
export async function installExpiredCertificate(layout: LabLayout, now = new Date()): Promise<CertificateValidity> {
  const validity = { notBefore: new Date(now.getTime() - 90 * DAY_MS), notAfter: new Date(now.getTime() - DAY_MS) };
  await issueServerCertificate(layout, validity);
  await reloadTlsServices(layout);
  return validity;
}

/**
 * Replaces the live server certificate with a valid one that ends `days` days (and an hour) from now, and reloads
 * Postfix and Dovecot: mailmend's assessment should pass with a certificate warning.
 *
 * @example await installNearExpiryCertificate(labLayout('.mailmend/lab'), 5);
 */
export async function installNearExpiryCertificate(
  layout: LabLayout,
  days: number,
  now = new Date(),
): Promise<CertificateValidity> {
  const validity = {
    notBefore: new Date(now.getTime() - 30 * DAY_MS),
    notAfter: new Date(now.getTime() + days * DAY_MS + 60 * 60_000),
  };
  await issueServerCertificate(layout, validity);
  await reloadTlsServices(layout);
  return validity;
}
