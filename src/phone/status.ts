/**
 * Folds firmware events into the PhoneStatus the screens are drawn from: one reducer, pure, so
 * the LCD, the web page and a test all see the same summary of the same events.
 */
import type { PhoneEvent, PhoneStatus, StepEvent } from './events.ts';

const LOG_LINES = 12;
const BOOT_STEPS = 24;

export function initialStatus(model: string, deviceName: string): PhoneStatus {
  return { model, deviceName, phase: 'Off', registered: false, address: undefined, tftpServer: undefined, configFile: undefined, line: undefined, callManager: undefined, log: [], problem: undefined, warning: undefined, load: '', inactiveLoad: '', boot: [], customization: undefined, profileUrl: undefined };
}

const PHASES: Record<StepEvent['step'], string> = {
  power: 'Booting',
  dhcp: 'Configuring IP',
  tftp: 'Configuring IP',
  trust: 'Trust list',
  config: 'Configuring CM',
  certificate: 'Updating certificate',
  onboarding: 'Activation',
  load: 'Upgrading',
  register: 'Registering',
  line: 'Registered',
  reboot: 'Restarting',
  customization: 'Customizing',
  profile: 'Provisioning',
  call: 'Registered',
};

export function applyEvent(s: PhoneStatus, e: PhoneEvent): PhoneStatus {
  // A flow's state change is for reports and tests; what it means shows in the step events.
  if (e.type !== 'event') return s;
  const next: PhoneStatus = { ...s, log: [...s.log, e.message].slice(-LOG_LINES) };
  // A call is drawn from the call itself (call/); here it is a line in the log, never a boot step or a problem.
  if (e.step === 'call') return next;
  // Lines 2–10 keep their own state; the phone's phase and problem are line 1's.
  if (e.step === 'line') {
    const others = (s.lines ?? []).filter((l) => l.index !== e.lineIndex);
    const was = (s.lines ?? []).find((l) => l.index === e.lineIndex);
    const registered = e.state === 'done' ? true : e.state === 'fail' || e.state === 'retry' || e.state === 'start' ? false : was?.registered ?? false;
    const problem = e.state === 'fail' || e.state === 'retry' ? e.reason : e.state === 'done' ? undefined : was?.problem;
    next.lines = [...others, { index: e.lineIndex, user: e.user, registered, ...(problem ? { problem } : {}) }].sort((a, b) => a.index - b.index);
    return next;
  }
  // Outcomes only (not every progress line), for Status > Last boot; a refresh is not a boot step.
  if ((e.state === 'done' || e.state === 'fail') && !(e.step === 'register' && s.registered && e.state === 'done')) {
    next.boot = [...s.boot, { step: e.step, state: e.state, t: e.t, message: e.message }].slice(-BOOT_STEPS);
  }
  if (e.state === 'fail' || e.state === 'retry') next.problem = e.message;
  switch (e.step) {
    case 'power':
      // The customization state lives in NVRAM: a reboot does not forget it (the flow says it again).
      if (e.state === 'start') return { ...initialStatus(s.model, s.deviceName), phase: PHASES.power, log: next.log, address: s.address, load: e.load, inactiveLoad: e.inactiveLoad, customization: s.customization };
      break;
    case 'dhcp':
      if (e.state === 'done') next.address = e.address;
      break;
    case 'tftp':
      if (e.state === 'done') next.tftpServer = e.server;
      break;
    case 'trust':
      // A refused list stays on show for this boot: the phone runs on the list it had.
      if (e.state === 'fail' && e.trust === 'refused') next.warning = { text: e.message, from: 'trust' };
      break;
    case 'config':
      if (e.state === 'fail') next.warning = { text: e.message, from: 'config' };
      if (e.state === 'done') {
        next.configFile = e.file;
        // A good file of its own clears a file refusal; the last good one in its place does not.
        if (!('lastGood' in e) && next.warning?.from === 'config') next.warning = undefined;
      }
      break;
    case 'customization':
      if (e.state === 'done' || e.state === 'start' || e.state === 'retry') next.customization = e.customization;
      break;
    case 'profile':
      if (e.state === 'done') next.profileUrl = e.url;
      break;
    case 'register':
      if (e.state === 'done') {
        next.phase = 'Registered';
        next.registered = true;
        next.problem = undefined;
        next.line = e.line;
        next.lineLabel = e.label;
        next.speedDials = e.speedDials;
        next.callManager = e.cm;
        return next;
      }
      break;
  }
  // While registered, progress (lease renewals, registration refreshes) changes nothing shown.
  if (s.registered && (e.state === 'progress' || e.state === 'done')) return next;
  next.registered = false;
  next.phase = PHASES[e.step];
  if (e.state === 'done') next.problem = undefined;
  return next;
}
