/**
 * The `sepi` command. The only place (with the other entry files in this folder) where ports
 * are constructed and where the process may exit.
 */
// Commands load lazily: a phone process never loads the companion's code, nor the reverse.
import { UsageError } from './args.ts';

const HELP = `sepi — a test IP phone that boots like a Cisco phone, and its companion call manager

  sepi phone --iface IF [--mac MAC] [--board NAME] [--model 8841] [--nvram DIR] [--display tty|text|none]
             [--until dhcp|config|registered|registered-any|customized|call-ended] [--timeout SECONDS] [--json-events]
             [--net kernel|none] [--tftp-server IP[,IP]] [--static IP/PREFIX] [--lcd 20x8|40x15]
             [--capf-auth-string DIGITS] [--activation-code CODE] [--factory DIR] [--wait-scale F]
             [--call DN] [--dtmf DIGITS] [--hangup-after SECONDS] [--auto-answer] [--audio-file WAV] [--record WAV]
  sepi phone screenshot [--from http://PHONE:PORT | < json-screens stream] [--out FILE] [--font PSF]
  sepi fleet --iface IF --count N [--mac-base MAC] [--model 8841] [--nvram-root DIR]
             [--until registered] [--timeout SECONDS] [--json]
  sepi cm serve --data DIR --iface IF [--config FILE] [--web-port 8443]
  sepi cm --data DIR status
  sepi cm --data DIR phone add --mac MAC --model 8841 [--dn DN] [--description TEXT] [--password PW]
  sepi cm --data DIR phone list | show MAC | rm MAC | reset MAC [--restart]
  sepi cm --data DIR phone certificate MAC [--install | --delete | --cancel] [--auth string|null-string|lsc]
             [--auth-string DIGITS] [--key-size 2048] [--encrypted-config | --no-encrypted-config]
  sepi cm --data DIR phone add --model 8841 --require-activation-code [--mac MAC] [--owner ID] [--json]
  sepi cm --data DIR phone code new|release|show NAME     sepi cm --data DIR codes export --csv
  sepi cm --data DIR device-defaults set --model 8841 --onboarding activation-code|auto-registration
  sepi cm --data DIR load add PATH… | load list [--json]      (firmware loads into the TFTP root)
  sepi cm --data DIR device-defaults set --model 8841 --load ID | phone set MAC --load ID | phone add … --load ID
  sepi cm --data DIR user add --id ID --password PW [--pin 1234] [--name TEXT] [--primary-dn DN] [--profile NAME] [--self-provisioning [--limit 10]] | list
  sepi cm --data DIR user set ID [--profile NAME|''] [--self-provisioning on|off] [--limit N] | user show ID
  sepi cm --data DIR ivr set [--extension 8999] [--auth none|users|users-and-admins] [--auth-code DIGITS] | ivr show
  sepi cm --data DIR udt add NAME [--description '#FirstName# #LastName# (#Product#)'] [--device-pool P] [--speed-dial 8999=Self-provisioning]
  sepi cm --data DIR ult add NAME [--display-name PATTERN] [--label PATTERN] [--external-mask 408555XXXX]
  sepi cm --data DIR udt|ult|user-profile list | show NAME | rm NAME
  sepi cm --data DIR user-profile add NAME --device-template UDT --line-template ULT [--self-provisioning] [--limit 10]
  sepi cm --data DIR autoregistration set --device-template UDT --line-template ULT | autoregistration show
  sepi cm --data DIR trust list | export sast|tftp|tvs|capf | import CERT --roles SAST,TFTP | import-manufacturing CERT
  sepi factory init|export [--dir DIR] | mic --mac MAC --model 8841 --nvram DIR
  sepi cm --data DIR template add NAME --model 8841 [--require-activation-code] | bat insert --csv FILE --template NAME [--dummy-mac]
  sepi cm --data DIR phone set-mac NAME MAC|--blank | audit | enterprise set --show-phones-ready-to-activate on|off
  sepi cm --data DIR trust rotate-tftp | rollback on|off
  sepi cm --data DIR edos set (--mac MAC | --model 8841) (--profile-rule URL | --none | --fault 503|500|404|timeout|tls)
  sepi cm --data DIR edos clear (--mac MAC | --model 8841) | list     sepi cm --data DIR profile set --mac MAC [--file FILE] [--key K] | show | clear
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
    case 'factory':
      return (await import('./factory-command.ts')).factoryCommand(rest);
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
