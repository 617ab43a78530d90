// What every systemd lab host shares on top of the debootstrap root fs: users, sudo, sshd, the boot unit,
// masked units, a persistent journal. Run once per machine in a chroot; the result is cached as an overlay layer.

export const DEPLOY_USER = 'deploy'; // passwordless sudo
export const DEPLOY_PW_USER = 'deploy-pw'; // sudo asks for the lab's password
/** sshd listens on both: a fleet file can name a port that is not ssh's default. */
export const SSH_PORTS = [22, 2200] as const;
export const ALT_SSH_PORT = 2200;

// NixOS stage 2 stand-in. Same order as fixtures/nix/switch-to-configuration.sh: `boot` and `switch` record the boot
// default in /nix/var/fleet-lab/boot-default; a host that never had one boots the system profile, if any.
export const BOOT_SCRIPT = `#!/bin/sh
for l in /nix/var/fleet-lab/boot-default /nix/var/nix/profiles/system; do
  t=$(readlink -f "$l") && [ -e "$t" ] || continue
  ln -sfn "$t" /run/current-system
  ln -sfn "$t" /run/booted-system
  echo "booted $t"
  exit 0
done
echo "no system to boot"
`;

// Before sysinit.target: like stage 2, /run/current-system exists before any service (sshd included) starts.
export const BOOT_UNIT = `[Unit]
Description=fleet lab: /run/current-system and /run/booted-system from the boot entry
DefaultDependencies=no
After=local-fs.target
Before=sysinit.target
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/fleet-lab-boot
[Install]
WantedBy=sysinit.target
`;

export const SSHD_DROP_IN = [
  ...SSH_PORTS.map((p) => `Port ${p}`),
  'HostKey /etc/ssh/ssh_host_ed25519_key',
  'PermitRootLogin prohibit-password',
  'PasswordAuthentication no',
  'KbdInteractiveAuthentication no',
  // Deployers open many sessions at once; the defaults (10:30:100, 10) would refuse some.
  'MaxStartups 100:30:200',
  'MaxSessions 100',
  // VERBOSE logs one "Accepted publickey" per handshake: the lab counts connections with it.
  'LogLevel VERBOSE',
  'PrintMotd no',
  '',
].join('\n');

// Units a lab host does not need: boot faster and quieter, and nothing runs on a timer during a test.
export const MASKED_UNITS = [
  'apt-daily.timer', 'apt-daily-upgrade.timer', 'dpkg-db-backup.timer', 'e2scrub_all.timer', 'fstrim.timer', 'man-db.timer',
  'systemd-tmpfiles-clean.timer', 'e2scrub_reap.service', 'getty@tty1.service', 'console-getty.service',
  'container-getty@.service', 'systemd-pstore.service', 'systemd-timesyncd.service', 'systemd-networkd-wait-online.service',
];

/** The chroot script; fixed text, so it is part of the layer's cache key. */
export function renderLayerScript(): string {
  const heredoc = (path: string, text: string) => `cat > ${path} <<'FLEET_LAB_EOF'\n${text}FLEET_LAB_EOF`;
  return [
    'set -eu',
    // Per host: its own host key and machine-id go in its upper layer.
    'rm -f /etc/ssh/ssh_host_*',
    ': > /etc/machine-id',
    `useradd -m -s /bin/bash -G nix-users ${DEPLOY_USER}`,
    `useradd -m -s /bin/bash -G nix-users ${DEPLOY_PW_USER}`,
    `echo '${DEPLOY_USER} ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/${DEPLOY_USER}`,
    `echo '${DEPLOY_PW_USER} ALL=(ALL) ALL' > /etc/sudoers.d/${DEPLOY_PW_USER}`,
    `chmod 440 /etc/sudoers.d/${DEPLOY_USER} /etc/sudoers.d/${DEPLOY_PW_USER}`,
    `for d in /root /home/${DEPLOY_USER} /home/${DEPLOY_PW_USER}; do mkdir -p "$d/.ssh"; chmod 700 "$d/.ssh"; done`,
    `chown ${DEPLOY_USER}: /home/${DEPLOY_USER}/.ssh; chown ${DEPLOY_PW_USER}: /home/${DEPLOY_PW_USER}/.ssh`,
    heredoc('/etc/ssh/sshd_config.d/fleet-lab.conf', SSHD_DROP_IN),
    heredoc('/usr/local/sbin/fleet-lab-boot', BOOT_SCRIPT),
    'chmod 755 /usr/local/sbin/fleet-lab-boot',
    heredoc('/etc/systemd/system/fleet-lab-boot.service', BOOT_UNIT),
    'mkdir -p /etc/systemd/system/sysinit.target.wants',
    'ln -sf /etc/systemd/system/fleet-lab-boot.service /etc/systemd/system/sysinit.target.wants/',
    `for u in ${MASKED_UNITS.join(' ')}; do ln -sf /dev/null "/etc/systemd/system/$u"; done`,
    // A persistent journal: handshake counts and fleet's transient units survive a reboot.
    'mkdir -p /var/log/journal /etc/systemd/journald.conf.d',
    "printf '[Journal]\\nStorage=persistent\\nSystemMaxUse=32M\\n' > /etc/systemd/journald.conf.d/fleet-lab.conf",
    // The lab has no network beyond itself: nothing asks a binary cache.
    "mkdir -p /etc/nix && printf 'sandbox = false\\nsubstituters =\\n' > /etc/nix/nix.conf",
    '',
  ].join('\n');
}
