// Every option of one-api.md §10, grouped as One API's settings pages group them (operation, system, other).

export type OptionKind = 'bool' | 'text' | 'number' | 'secret' | 'textarea' | 'ratio' | 'tiers' | 'quota' | 'theme';

export interface OptionField {
  key: string;
  label: string;
  kind: OptionKind;
  hint?: string;
}

export interface OptionGroup {
  id: string;
  title: string;
  fields: OptionField[];
}

export type OptionTab = 'operation' | 'system' | 'other';

const f = (key: string, label: string, kind: OptionKind, hint?: string): OptionField => ({ key, label, kind, hint });

export const OPTION_GROUPS: Record<OptionTab, OptionGroup[]> = {
  operation: [
    { id: 'general', title: 'General', fields: [
      f('TopUpLink', 'Top-up link', 'text', 'Payment page; the top-up button adds username, user_id and transaction_id.'),
      f('ChatLink', 'Chat link', 'text', 'Chat UI the token page opens with a key (NextChat style).'),
      f('QuotaPerUnit', 'Quota per unit (USD)', 'number', 'How much quota one dollar is; 500000 by default.'),
      f('RetryTimes', 'Retry times', 'number', 'How many other channels a failed request tries.'),
      f('DisplayInCurrencyEnabled', 'Show quota in USD', 'bool'),
      f('DisplayTokenStatEnabled', 'Billing endpoints report token figures', 'bool'),
      f('ApproximateTokenEnabled', 'Approximate token counting (faster, less exact)', 'bool'),
      f('PublicPricingEnabled', 'Price page open to visitors who are not logged in', 'bool'),
    ] },
    { id: 'quota', title: 'Quota', fields: [
      f('QuotaForNewUser', 'Quota for a new user', 'quota'),
      f('PreConsumedQuota', 'Quota reserved before a request', 'quota'),
      f('QuotaForInviter', 'Quota for the inviter', 'quota'),
      f('QuotaForInvitee', 'Quota for the invitee', 'quota'),
    ] },
    { id: 'monitor', title: 'Monitoring', fields: [
      f('ChannelDisableThreshold', 'Slowest channel test allowed (seconds)', 'number', 'A test slower than this disables the channel; 0 never.'),
      f('QuotaRemindThreshold', 'Low-quota reminder threshold', 'quota'),
      f('AutomaticDisableChannelEnabled', 'Disable a channel automatically when it fails', 'bool'),
      f('AutomaticEnableChannelEnabled', 'Enable a channel again when its test succeeds', 'bool'),
    ] },
    { id: 'log', title: 'Logs', fields: [f('LogConsumeEnabled', 'Record consumption logs', 'bool')] },
    { id: 'ratio', title: 'Ratios', fields: [
      f('ModelRatio', 'Model ratio', 'ratio', 'Model name → price ratio (1 = $0.002 per 1K tokens).'),
      f('CompletionRatio', 'Completion ratio', 'ratio', 'Model name → how much a completion token costs compared with a prompt token.'),
      f('GroupRatio', 'Group ratio', 'ratio', 'User group → multiplier.'),
    ] },
    { id: 'parts', title: 'Prices per usage part', fields: [
      f('CacheReadRatio', 'Cache read ratio', 'ratio', 'Model name → price of a cached input token as a multiple of an input token (Claude 0.1). Missing: billed as input.'),
      f('CacheWrite5mRatio', 'Cache write ratio (5 minutes)', 'ratio', 'Model name → price of a 5-minute (or the only) cache write as a multiple of an input token (Claude 1.25).'),
      f('CacheWrite1hRatio', 'Cache write ratio (1 hour)', 'ratio', 'Model name → price of a 1-hour cache write as a multiple of an input token (Claude 2).'),
      f('AudioInputRatio', 'Audio input ratio', 'ratio', 'Model name → price of an audio input token as a multiple of an input token.'),
      f('AudioOutputRatio', 'Audio output ratio', 'ratio', 'Model name → price of an audio output token as a multiple of an input token.'),
      f('LongContextRatio', 'Long-context tiers', 'tiers', 'Model name → [{"above": tokens, "input": ×, "output": ×}]: a prompt above the threshold pays input and output at these multiples.'),
    ] },
  ],
  system: [
    { id: 'server', title: 'General', fields: [
      f('ServerAddress', 'Server address', 'text', 'Public base URL, used in emails, OAuth redirects and chat links.'),
    ] },
    { id: 'login', title: 'Login and registration', fields: [
      f('PasswordLoginEnabled', 'Allow password login', 'bool'),
      f('PasswordRegisterEnabled', 'Allow password registration', 'bool'),
      f('EmailVerificationEnabled', 'Registration needs an email code', 'bool'),
      f('GitHubOAuthEnabled', 'Allow GitHub login', 'bool'),
      f('OidcEnabled', 'Allow OIDC login', 'bool'),
      f('WeChatAuthEnabled', 'Allow WeChat login', 'bool'),
      f('RegisterEnabled', 'Allow new users to register', 'bool'),
      f('TurnstileCheckEnabled', 'Turnstile check', 'bool'),
    ] },
    { id: 'domains', title: 'Email domain whitelist', fields: [
      f('EmailDomainRestrictionEnabled', 'Only allow these email domains', 'bool'),
      f('EmailDomainWhitelist', 'Allowed domains (comma-separated)', 'text'),
    ] },
    { id: 'smtp', title: 'SMTP', fields: [
      f('SMTPServer', 'SMTP server', 'text'), f('SMTPPort', 'SMTP port', 'number'),
      f('SMTPAccount', 'SMTP account', 'text'), f('SMTPFrom', 'Sender address', 'text'),
      f('SMTPToken', 'SMTP password or token', 'secret'),
    ] },
    { id: 'github', title: 'GitHub OAuth', fields: [
      f('GitHubClientId', 'GitHub client ID', 'text'), f('GitHubClientSecret', 'GitHub client secret', 'secret'),
    ] },
    { id: 'lark', title: 'Lark (Feishu)', fields: [
      f('LarkClientId', 'Lark app ID', 'text'), f('LarkClientSecret', 'Lark app secret', 'secret'),
    ] },
    { id: 'oidc', title: 'OIDC', fields: [
      f('OidcClientId', 'Client ID', 'text'), f('OidcClientSecret', 'Client secret', 'secret'),
      f('OidcWellKnown', 'Well-known URL', 'text'), f('OidcAuthorizationEndpoint', 'Authorization endpoint', 'text'),
      f('OidcTokenEndpoint', 'Token endpoint', 'text'), f('OidcUserinfoEndpoint', 'Userinfo endpoint', 'text'),
    ] },
    { id: 'wechat', title: 'WeChat server', fields: [
      f('WeChatServerAddress', 'WeChat server address', 'text'), f('WeChatServerToken', 'WeChat server token', 'secret'),
      f('WeChatAccountQRCodeImageURL', 'Official account QR code image URL', 'text'),
    ] },
    { id: 'pusher', title: 'Message Pusher', fields: [
      f('MessagePusherAddress', 'Message Pusher address', 'text'), f('MessagePusherToken', 'Message Pusher token', 'secret'),
    ] },
    { id: 'turnstile', title: 'Turnstile', fields: [
      f('TurnstileSiteKey', 'Site key', 'text'), f('TurnstileSecretKey', 'Secret key', 'secret'),
    ] },
    { id: 'endpoints', title: 'Provider endpoints (advanced)', fields: [
      f('GitHubTokenEndpoint', 'GitHub token endpoint', 'text'), f('GitHubUserEndpoint', 'GitHub user endpoint', 'text'),
      f('LarkTokenEndpoint', 'Lark token endpoint', 'text'), f('LarkUserinfoEndpoint', 'Lark userinfo endpoint', 'text'),
      f('TurnstileVerifyEndpoint', 'Turnstile verify endpoint', 'text'),
    ] },
  ],
  other: [
    { id: 'notice', title: 'Notice', fields: [f('Notice', 'Notice (Markdown or HTML), shown once per change', 'textarea')] },
    { id: 'brand', title: 'Branding', fields: [
      f('SystemName', 'System name', 'text'), f('Logo', 'Logo image URL', 'text'),
      f('Footer', 'Footer (HTML)', 'textarea'), f('Theme', 'Theme (takes effect after a restart)', 'theme'),
    ] },
    { id: 'home', title: 'Home page', fields: [f('HomePageContent', 'Home page content (Markdown, HTML, or a URL shown in a frame)', 'textarea')] },
    { id: 'about', title: 'About', fields: [f('About', 'About page (Markdown, HTML, or a URL shown in a frame)', 'textarea')] },
  ],
};

/** Keys the server never lists (One API hides *Token and *Secret; this API also *SecretKey). */
export const isSecretKey = (key: string): boolean => /(Token|Secret|SecretKey|Password)$/.test(key);
