/**
 * What the firmware tells the world. One event type drives the LCD, the log, the
 * `--json-events` stream and (later) the web status page alike.
 */
export type BootStep = 'power' | 'dhcp' | 'tftp' | 'trust' | 'config' | 'register' | 'reboot';
export type StepState = 'start' | 'progress' | 'done' | 'fail' | 'retry';

export interface PhoneEvent {
  step: BootStep;
  state: StepState;
  /** Milliseconds since this step started. */
  ms: number;
  /** Milliseconds since power-on (or the last reboot). */
  t: number;
  /** The words the phone shows for this event. */
  message: string;
  [detail: string]: unknown;
}

/** What the screens are drawn from: a summary the firmware keeps current. */
export interface PhoneStatus {
  model: string;
  deviceName: string;
  /** The big word on the screen: Configuring IP, Configuring CM, Registering, Registered… */
  phase: string;
  registered: boolean;
  address: string | undefined;
  tftpServer: string | undefined;
  configFile: string | undefined;
  line: string | undefined;
  callManager: string | undefined;
  /** Latest event messages, newest last. */
  log: string[];
  /** The last failure in words, cleared on success. */
  problem: string | undefined;
  /** A refusal the phone is living with (a file refused, the last good one in use): stays on show while registered. */
  warning: { text: string; from: 'trust' | 'config' } | undefined;
}
