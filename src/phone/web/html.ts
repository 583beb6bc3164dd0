/**
 * The phone page's HTML: a template tag that escapes every value, the page frame with Cisco's
 * tab names, and the few form helpers every page uses. The escaping tag is sepi's one
 * (src/common/html.ts); the frame is the phone's own (a refresh for the Info page, a stylesheet
 * and script served from the phone itself so the Content-Security-Policy can forbid every
 * inline script and style).
 */
import { Html, type Value, html } from '../../common/html.ts';

export { Html, html } from '../../common/html.ts';

/** Served as /phone.css: one column, no fixed widths, so a phone-sized browser can read it too. */
export const STYLESHEET = `body{font-family:system-ui,sans-serif;margin:0;padding:1rem;max-width:60rem}
nav{margin-bottom:.5rem}nav a{margin-right:1rem}nav form{display:inline}
table{border-collapse:collapse;width:100%;margin-bottom:1rem}td,th{border-bottom:1px solid #ccc;padding:.3rem;text-align:left;vertical-align:top}
th{width:40%;font-weight:normal;color:#333}label{display:block;margin:.6rem 0 .2rem}label.inline{display:inline}
input{font-size:1rem;max-width:100%}pre.lcd{background:#111;color:#cfc;padding:.5rem;display:inline-block;max-width:100%;overflow-x:auto}
.error{color:#a00;font-weight:bold}.note{color:#060}.danger{border:1px solid #a00;padding:.5rem}
@media (max-width:40rem){td,th{display:block;width:auto}}`;

/**
 * Served as /phone.js: progressive enhancement only. Without JavaScript the Info page reloads
 * itself (a <noscript> refresh); with it, the page listens to /events (Server-Sent Events, one
 * "changed" ping per phone event) and swaps in the newly rendered <main>, so the page follows the
 * phone at once instead of every few seconds. The ping carries no data: what the page shows is
 * always rendered by the server, escaped, from the same status the LCD is drawn from.
 */
export const SCRIPT = `(function(){
  var main=document.querySelector('main[data-follow]');
  if(!main||!window.EventSource||!window.DOMParser)return;
  var busy=false,again=false;
  function refresh(){
    if(busy){again=true;return;}
    busy=true;
    fetch(location.pathname,{credentials:'same-origin',cache:'no-store'}).then(function(r){return r.text();}).then(function(t){
      var next=new DOMParser().parseFromString(t,'text/html').querySelector('main[data-follow]');
      if(next)main.innerHTML=next.innerHTML;
    }).catch(function(){}).then(function(){busy=false;if(again){again=false;refresh();}});
  }
  var es=new EventSource('/events');
  es.addEventListener('changed',refresh);
  // Refused (too many streams) or gone for good: reload now and then, as without JavaScript.
  es.onerror=function(){if(es.readyState===2)setTimeout(function(){location.reload();},5000);};
})();`;

export interface Frame {
  title: string;
  /** A signed-in admin sees the admin links and Sign Out (which needs a CSRF token). */
  admin?: { csrf: string } | undefined;
  /** Seconds after which a browser without JavaScript reloads the page (the Info page). */
  refreshSecs?: number | undefined;
  /** The page follows the phone's events when JavaScript runs (see SCRIPT). */
  follow?: boolean | undefined;
}

/** A whole page: Cisco's tabs (Info, Admin), the title, the body inside <main>. */
export function page(f: Frame, body: Html): string {
  const refresh = f.refreshSecs ? html`<noscript><meta http-equiv="refresh" content="${f.refreshSecs}"></noscript>` : '';
  const nav = f.admin
    ? html`<nav><a href="/">Info</a><a href="/admin/advanced">Admin: Advanced</a><a href="/admin/password">Admin Password</a><form method="post" action="/admin/logout"><input type="hidden" name="_csrf" value="${f.admin.csrf}"><button type="submit">Sign Out</button></form></nav>`
    : html`<nav><a href="/">Info</a><a href="/admin/">Admin Login</a></nav>`;
  const doc = html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">${refresh}<title>${f.title} — Phone Web Utility</title><link rel="stylesheet" href="/phone.css">${f.follow ? html`<script src="/phone.js" defer></script>` : ''}</head><body>${nav}<main${f.follow ? html` data-follow` : ''}><h1>${f.title}</h1>${body}</main></body></html>`;
  return `<!doctype html>${doc.text}`;
}

/** A POST form with the CSRF token every form carries. */
export function form(action: string, csrf: string, inner: Html, submit: string): Html {
  return html`<form method="post" action="${action}"><input type="hidden" name="_csrf" value="${csrf}">${inner}<p><button type="submit">${submit}</button></p></form>`;
}

/** A labelled text-like input (`<label for>`): every field on every form has one. */
export function input(id: string, label: string, o: { type?: string; value?: string; required?: boolean; autocomplete?: string; minlength?: number; inputmode?: string } = {}): Html {
  return html`<label for="${id}">${label}</label><input id="${id}" name="${id}" type="${o.type ?? 'text'}" value="${o.value ?? ''}"${o.required ? html` required` : ''}${o.autocomplete ? html` autocomplete="${o.autocomplete}"` : ''}${o.minlength ? html` minlength="${o.minlength}"` : ''}${o.inputmode ? html` inputmode="${o.inputmode}"` : ''}>`;
}

/** A labelled checkbox. */
export function checkbox(id: string, label: string): Html {
  return html`<p><input type="checkbox" id="${id}" name="${id}" value="on"> <label class="inline" for="${id}">${label}</label></p>`;
}

export const errorNote = (words: string) => html`<p class="error" role="alert">${words}</p>`;
export const doneNote = (words: string) => html`<p class="note" role="status">${words}</p>`;

/**
 * A read-only table row whose value cell is labelled by its header (aria-labelledby), so a
 * screen reader — and a test, with getByLabel — finds "Customization" the way a person does.
 */
export function row(id: string, label: string, value: Value): Html {
  return html`<tr><th id="${id}-label" scope="row">${label}</th><td id="${id}" aria-labelledby="${id}-label">${value}</td></tr>`;
}
