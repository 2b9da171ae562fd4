// The external top-up page link: One API's UI appends username, user_id and a fresh transaction_id.
export function topUpUrl(link: string, username: string, userId: number, transactionId: string): string {
  const url = new URL(link, 'http://placeholder.invalid');
  url.searchParams.set('username', username);
  url.searchParams.set('user_id', String(userId));
  url.searchParams.set('transaction_id', transactionId);
  return /^[a-z][a-z0-9+.-]*:/i.test(link) ? url.toString() : `${url.pathname}${url.search}${url.hash}`;
}
