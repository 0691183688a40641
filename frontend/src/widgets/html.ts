/**
 * ipywidgets' HTML and HTMLMath views put their `value` into the page as it is: the value
 * comes from the kernel, i.e. from whoever ran the cell, and in the app's origin a script
 * in it could act as the person looking at it. These views put it through the app's own
 * sanitizer (the one Markdown uses: no scripts, no event handlers, filtered styles).
 */
import * as controls from '@jupyter-widgets/controls';

/** The app's HTML sanitizer (views/markdown.ts), handed in through the manager. */
export interface HtmlSanitizer {
  sanitizeHtml(html: string): string;
}

function sanitizer(view: controls.StringView): HtmlSanitizer {
  return view.model.widget_manager as unknown as HtmlSanitizer;
}

export class SafeHTMLView extends controls.HTMLView {
  override update(): void {
    this.content.innerHTML = sanitizer(this).sanitizeHtml(String(this.model.get('value') ?? ''));
    // StringView's update (description, tooltip), not HTMLView's, which would write the
    // value again unsanitized.
    return controls.StringView.prototype.update.call(this);
  }
}

export class SafeHTMLMathView extends controls.HTMLMathView {
  override update(): void {
    this.content.innerHTML = sanitizer(this).sanitizeHtml(String(this.model.get('value') ?? ''));
    return controls.StringView.prototype.update.call(this);
  }
}
