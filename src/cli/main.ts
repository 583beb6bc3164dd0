/**
 * The `sepi` command. The only place (with the other entry files in this folder) where ports
 * are constructed and where the process may exit.
 */
// Commands load lazily: a phone process never loads the companion's code, nor the reverse.
import { UsageError } from './args.ts';

const HELP = `sepi — a test IP phone that boots like a Cisco phone, and its companion call manager

  sepi phone --iface IF [--mac MAC] [--board NAME] [--model 8841] [--nvram DIR] [--display tty|text|none]
             [--until dhcp|config|registered|registered-any] [--timeout SECONDS] [--json-events]
             [--net kernel|none] [--tftp-server IP[,IP]] [--static IP/PREFIX] [--lcd 20x8|40x15]
             [--capf-auth-string DIGITS]
  sepi fleet --iface IF --count N [--mac-base MAC] [--model 8841] [--nvram-root DIR]
             [--until registered] [--timeout SECONDS] [--json]
  sepi cm serve --data DIR --iface IF [--config FILE]
  sepi cm --data DIR status
  sepi cm --data DIR phone add --mac MAC --model 8841 [--dn DN] [--description TEXT] [--password PW]
  sepi cm --data DIR phone list | show MAC | rm MAC | reset MAC [--restart]
  sepi cm --data DIR phone certificate MAC [--install | --delete | --cancel] [--auth string|null-string|lsc]
             [--auth-string DIGITS] [--key-size 2048] [--encrypted-config | --no-encrypted-config]
  sepi cm --data DIR trust list | export sast|tftp|tvs|capf | import CERT --roles SAST,TFTP
  sepi cm --data DIR trust rotate-tftp | rollback on|off
  sepi tlv show FILE [--json]
  sepi tlv verify FILE (--cert PEM | --self)
  sepi demo [--phones 2]

Docs: README.md, docs/cli.md, docs/companion.md.`;

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'phone':
      return (await import('./phone-command.ts')).phoneCommand(rest);
    case 'fleet':
      return (await import('./fleet-command.ts')).fleetCommand(rest);
    case 'cm':
      return (await import('./cm-command.ts')).cmCommand(rest);
    case 'tlv':
      return (await import('./tlv-command.ts')).tlvCommand(rest);
    case 'demo':
      return (await import('./demo.ts')).demoCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(HELP + '\n');
      return cmd === undefined ? 2 : 0;
    case '--version':
      process.stdout.write('sepi 0.1.0\n');
      return 0;
    default:
      throw new UsageError(`unknown command "${cmd}"`);
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) {
      process.stderr.write(`sepi: ${e.message}\n(sepi help for usage)\n`);
      process.exitCode = 2;
    } else {
      process.stderr.write(`sepi: ${e instanceof Error ? e.message : String(e)}\n`);
      process.exitCode = 1;
    }
  },
);
