// Root-authored content (home page, about, notice): a URL is shown in an iframe, anything else as Markdown/HTML.
import { marked } from 'marked';
import { useEffect, useRef } from 'preact/hooks';

export function isUrl(text: string): boolean {
  return /^https?:\/\/\S+$/.test(text.trim());
}

/** Markdown to HTML; raw HTML passes through, as in One API (only root can set this content). */
export function renderMarkdown(text: string): string {
  return marked.parse(text, { async: false, gfm: true, breaks: false }) as string;
}

export function RichContent({ text, class: cls }: { text: string; class?: string }) {
  if (isUrl(text)) {
    return <iframe class="content-frame" src={text.trim()} title="content" />;
  }
  return <Html html={renderMarkdown(text)} class={cls} />;
}

/** HTML that may carry <script> tags (a custom footer or home page): those are re-created so they run. */
export function Html({ html, class: cls }: { html: string; class?: string }) {
  const ref = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    el.innerHTML = html;
    el.querySelectorAll('script').forEach((old) => {
      const script = document.createElement('script');
      for (const attr of Array.from(old.attributes)) script.setAttribute(attr.name, attr.value);
      script.text = old.text;
      old.replaceWith(script);
    });
  }, [html]);
  return <div ref={ref} class={cls ?? 'markdown'} />;
}
