import { writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { serverSchema, type ServerConfig } from '../config/schema';
import { LAB_CANARY, LAB_MAIL_USER, type LabLayout, type LabSettings } from './layout';
import { LOOPBACK } from './processes';

/** The lab as one entry of mailmend.yaml's `servers:` list, with absolute paths so it works from any config file. */
function labServerEntry(layout: LabLayout, settings: LabSettings, hostKey: string) {
  return {
    id: settings.serverId,
    smtp: { host: LOOPBACK, port: settings.ports.smtp },
    imap: { host: LOOPBACK, port: settings.ports.imap, tls: false, starttls: true },
    tls: { caFile: layout.tlsCaCert },
    ssh: {
      host: LOOPBACK,
      port: settings.ports.ssh,
      user: 'root',
      hostKey,
      privateKey: { file: layout.sshClientKey },
    },
    canary: { mailbox: LAB_CANARY, imapUser: LAB_CANARY, imapPassword: { file: layout.canaryPasswordFile } },
    host: {
      postfixConfigDir: layout.postfixConfigDir,
      dovecotConfig: layout.dovecotConfig,
      knownGoodDir: layout.knownGoodDir,
      logFiles: [layout.postfixLog, layout.dovecotLog],
      mailDirs: [layout.mailDir],
      // useradd --user-group gives the lab's mail user a group of the same name.
      mailOwner: `${LAB_MAIL_USER}:${LAB_MAIL_USER}`,
      packageLogs: ['/var/log/dpkg.log', '/var/log/apt/history.log'],
      deferredThreshold: 0,
    },
  };
}

/** Writes `<state>/mailmend-server.yaml` and returns the entry as mailmend will read it. */
export async function writeServerFragment(
  layout: LabLayout,
  settings: LabSettings,
  hostKey: string,
): Promise<ServerConfig> {
  const entry = labServerEntry(layout, settings, hostKey);
  const header =
    '# The mailmend lab, written by `mailmend lab up`. Copy this entry into the `servers:` list of mailmend.yaml.\n';
  await writeFile(layout.fragmentFile, header + stringify({ servers: [entry] }, { lineWidth: 0 }));
  return serverSchema.parse(entry);
}
