/**
 * Server-rendered HTML with every value escaped: `html\`<p>${name}</p>\`` escapes `name`; only a
 * value that is already `Html` (built by this tag) goes in as it is. Pages work without
 * JavaScript and fit a phone-sized screen and a desktop one (one column, a viewport meta, no
 * fixed widths).
 */
import { Html, html } from '../../common/html.ts';

export { Html, html } from '../../common/html.ts';

const STYLE = `body{font-family:system-ui,sans-serif;margin:0;padding:1rem;max-width:60rem}
nav a{margin-right:1rem}table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ccc;padding:.3rem;text-align:left;vertical-align:top}
label{display:block;margin:.6rem 0 .2rem}input,select,textarea{font-size:1rem;max-width:100%}textarea{width:100%}
.error{color:#a00;font-weight:bold}.note{color:#060}.code{font-family:monospace;font-size:1.3rem;letter-spacing:.05rem}
@media (max-width:40rem){td,th{display:block}}`;

/** A whole page: title, navigation (when signed in), the body. */
export function page(title: string, body: Html, nav: Html = html``): string {
  return `<!doctype html>${html`<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${title} — sepi</title><style>${new Html(STYLE)}</style></head><body>${nav}<h1>${title}</h1>${body}</body></html>`.text}`;
}

/** A POST form with the CSRF token every form carries. */
export function form(action: string, csrf: string, inner: Html, submit: string): Html {
  return html`<form method="post" action="${action}"><input type="hidden" name="_csrf" value="${csrf}">${inner}<p><button type="submit">${submit}</button></p></form>`;
}
