// Channel types as the channel form needs them: names and defaults (kept equal to rules/channel_types.toml by
// tests/browser/test_web_sources.py) plus the extra fields each type asks for (§8.6, §13).
import { t } from './i18n';

export interface ChannelType {
  id: number;
  name: string;
  baseUrl?: string;
  balance?: boolean;
  needsBaseUrl?: boolean;
}

export const CHANNEL_TYPES: ChannelType[] = [
  { id: 1, name: 'OpenAI', baseUrl: 'https://api.openai.com', balance: true },
  { id: 2, name: 'API2D', baseUrl: 'https://oa.api2d.net' },
  { id: 3, name: 'Azure OpenAI', needsBaseUrl: true },
  { id: 4, name: 'CloseAI', baseUrl: 'https://api.closeai-proxy.xyz', balance: true },
  { id: 5, name: 'OpenAI-SB', baseUrl: 'https://api.openai-sb.com', balance: true },
  { id: 6, name: 'OpenAI Max', baseUrl: 'https://api.openaimax.com' },
  { id: 7, name: 'OhMyGPT', baseUrl: 'https://api.ohmygpt.com' },
  { id: 8, name: 'Custom', balance: true, needsBaseUrl: true },
  { id: 9, name: 'AI.LS', baseUrl: 'https://api.caipacity.com' },
  { id: 10, name: 'AI Proxy', baseUrl: 'https://api.aiproxy.io', balance: true },
  { id: 11, name: 'Google PaLM2', baseUrl: 'https://generativelanguage.googleapis.com' },
  { id: 12, name: 'API2GPT', baseUrl: 'https://api.api2gpt.com', balance: true },
  { id: 13, name: 'AIGC2D', baseUrl: 'https://api.aigc2d.com', balance: true },
  { id: 14, name: 'Anthropic Claude', baseUrl: 'https://api.anthropic.com' },
  { id: 15, name: 'Baidu Wenxin Qianfan', baseUrl: 'https://aip.baidubce.com' },
  { id: 16, name: 'Zhipu ChatGLM', baseUrl: 'https://open.bigmodel.cn' },
  { id: 17, name: 'Ali Tongyi Qianwen', baseUrl: 'https://dashscope.aliyuncs.com' },
  { id: 18, name: 'iFlytek Spark' },
  { id: 19, name: '360 Zhinao', baseUrl: 'https://ai.360.cn' },
  { id: 20, name: 'OpenRouter', baseUrl: 'https://openrouter.ai/api', balance: true },
  { id: 21, name: 'AI Proxy Library', baseUrl: 'https://api.aiproxy.io' },
  { id: 22, name: 'FastGPT', baseUrl: 'https://fastgpt.run/api/openapi' },
  { id: 23, name: 'Tencent Hunyuan', baseUrl: 'https://hunyuan.tencentcloudapi.com' },
  { id: 24, name: 'Google Gemini', baseUrl: 'https://generativelanguage.googleapis.com' },
  { id: 25, name: 'Moonshot AI', baseUrl: 'https://api.moonshot.cn' },
  { id: 26, name: 'Baichuan', baseUrl: 'https://api.baichuan-ai.com' },
  { id: 27, name: 'MiniMax', baseUrl: 'https://api.minimax.chat' },
  { id: 28, name: 'Mistral AI', baseUrl: 'https://api.mistral.ai' },
  { id: 29, name: 'Groq', baseUrl: 'https://api.groq.com/openai' },
  { id: 30, name: 'Ollama', baseUrl: 'http://localhost:11434' },
  { id: 31, name: '01.AI (Lingyiwanwu)', baseUrl: 'https://api.lingyiwanwu.com' },
  { id: 32, name: 'StepFun', baseUrl: 'https://api.stepfun.com' },
  { id: 33, name: 'AWS Bedrock' },
  { id: 34, name: 'Coze', baseUrl: 'https://api.coze.com' },
  { id: 35, name: 'Cohere', baseUrl: 'https://api.cohere.ai' },
  { id: 36, name: 'DeepSeek', baseUrl: 'https://api.deepseek.com', balance: true },
  { id: 37, name: 'Cloudflare Workers AI', baseUrl: 'https://api.cloudflare.com' },
  { id: 38, name: 'DeepL', baseUrl: 'https://api-free.deepl.com' },
  { id: 39, name: 'together.ai', baseUrl: 'https://api.together.xyz' },
  { id: 40, name: 'Volcengine Doubao', baseUrl: 'https://ark.cn-beijing.volces.com' },
  { id: 41, name: 'Novita', baseUrl: 'https://api.novita.ai/v3/openai' },
  { id: 42, name: 'Google Vertex AI' },
  { id: 43, name: 'Proxy', needsBaseUrl: true },
  { id: 44, name: 'SiliconFlow', baseUrl: 'https://api.siliconflow.cn', balance: true },
  { id: 45, name: 'xAI', baseUrl: 'https://api.x.ai' },
  { id: 46, name: 'Replicate', baseUrl: 'https://api.replicate.com/v1/models/' },
  { id: 47, name: 'Baidu Qianfan V2', baseUrl: 'https://qianfan.baidubce.com' },
  { id: 48, name: 'iFlytek Spark V2', baseUrl: 'https://spark-api-open.xf-yun.com' },
  { id: 49, name: 'Alibaba Bailian', baseUrl: 'https://dashscope.aliyuncs.com' },
  { id: 50, name: 'OpenAI Compatible', needsBaseUrl: true },
  { id: 51, name: 'Gemini (OpenAI)', baseUrl: 'https://generativelanguage.googleapis.com/v1beta/openai/' },
];

export function typeName(id: number): string {
  return CHANNEL_TYPES.find((x) => x.id === id)?.name ?? t('Unknown');
}

export interface ExtraField {
  key: string;
  label: string;
  textarea?: boolean;
  placeholder?: string;
}

export interface TypeForm {
  keyHint?: string;
  baseUrlLabel?: string;
  /** the channel's `other` column, with its meaning for this type */
  other?: { label: string; placeholder?: string; fallback?: string };
  /** fields stored in the channel's `config` JSON */
  config?: ExtraField[];
  /** when the key box is empty, the key is these config values joined with `|` (One API's UI does this) */
  keyFromConfig?: boolean;
  modelsOptional?: boolean;
}

export const AZURE_DEFAULT_VERSION = '2024-03-01-preview';

export function typeForm(id: number): TypeForm {
  switch (id) {
    case 3: return { baseUrlLabel: 'AZURE_OPENAI_ENDPOINT', keyHint: 'AZURE_OPENAI_KEY',
      other: { label: t('API version'), placeholder: AZURE_DEFAULT_VERSION, fallback: AZURE_DEFAULT_VERSION } };
    case 8: return { keyHint: t('Key sent as a Bearer token; the base URL is used as given') };
    case 15: return { keyHint: 'APIKey|SecretKey' };
    case 16: return { keyHint: 'id.secret' };
    case 17: return { other: { label: t('Plugin parameter (X-DashScope-Plugin)'), placeholder: '' } };
    case 18: return { keyHint: 'APPID|APISecret|APIKey', other: { label: t('Spark version'), placeholder: 'v1.1' } };
    case 21: return { other: { label: t('Knowledge base ID'), placeholder: '' } };
    case 22: return { keyHint: 'APIKey-AppId' };
    case 23: return { keyHint: 'AppId|SecretId|SecretKey', config: [{ key: 'region', label: t('Region (optional)') }] };
    case 24: return { other: { label: t('API version'), placeholder: t('empty: chosen per model') } };
    case 33: return { keyFromConfig: true, keyHint: t('Leave empty to use the fields below'), config: [
      { key: 'ak', label: 'AWS Access Key ID' }, { key: 'sk', label: 'AWS Secret Access Key' }, { key: 'region', label: t('Region'), placeholder: 'us-east-1' }] };
    case 34: return { keyHint: t('Coze personal access token'), config: [{ key: 'user_id', label: t('User ID (optional)') }] };
    case 37: return { config: [{ key: 'user_id', label: t('Account ID') }] };
    case 42: return { keyFromConfig: true, keyHint: t('Leave empty to use the fields below'), config: [
      { key: 'region', label: t('Region'), placeholder: 'us-central1' }, { key: 'vertex_ai_project_id', label: t('Project ID') },
      { key: 'vertex_ai_adc', label: t('Service account JSON (ADC)'), textarea: true }] };
    case 43: return { modelsOptional: true };
    default: return {};
  }
}

export const CHANNEL_ENABLED = 1;
export const CHANNEL_MANUALLY_DISABLED = 2;
export const CHANNEL_AUTO_DISABLED = 3;
