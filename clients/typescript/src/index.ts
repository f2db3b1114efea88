// The customer platform's TypeScript client: every route and schema is generated from
// openapi.yaml into ./schema.d.ts (`npm run generate`) and called through openapi-fetch, so a
// path, a field or a status the contract does not have is a compile error. What generation
// cannot know is written here, and only that:
//   - the session: the access token on every call, and a refresh with rotation when it expires
//     (one refresh at a time, however many calls found it expired; the failed call is retried
//     once with the new token);
//   - the guest cart's `X-Guest-Token` header until the customer signs in, and the move of the
//     guest cart into the customer's;
//   - the staff login, which may take two steps when the member has two factors on.
import createClient, { type Client, type Middleware } from "openapi-fetch";
import type { components, paths } from "./schema.js";

export type { components, paths };
export type Schemas = components["schemas"];
export type Customer = Schemas["Customer"];
export type Problem = Schemas["Problem"];

/** The tokens of a signed-in customer or staff member. */
export interface Session {
  accessToken: string;
  refreshToken: string;
}

/** Where the client keeps the session and the guest token (memory by default; an app passes
 * one backed by its secure storage so a restart keeps the user signed in). */
export interface SessionStore {
  session(): Session | undefined;
  setSession(session: Session | undefined): void;
  guestToken(): string | undefined;
  setGuestToken(token: string | undefined): void;
}

export class MemorySessionStore implements SessionStore {
  #session: Session | undefined;
  #guest: string | undefined;
  session(): Session | undefined {
    return this.#session;
  }
  setSession(session: Session | undefined): void {
    this.#session = session;
  }
  guestToken(): string | undefined {
    return this.#guest;
  }
  setGuestToken(token: string | undefined): void {
    this.#guest = token;
  }
}

export interface PlatformClientOptions {
  /** e.g. `https://abc123.execute-api.eu-west-1.amazonaws.com` or `http://127.0.0.1:3000`. */
  baseUrl: string;
  store?: SessionStore;
  fetch?: typeof globalThis.fetch;
  /** Called when the session ended (refresh refused): the app shows its sign-in screen. */
  onSignedOut?: () => void;
}

/** An answer that was not 2xx, with the contract's problem details. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly problem: Problem | undefined,
  ) {
    super(problem?.detail ?? `HTTP ${status}`);
    this.name = "ApiError";
  }
}

/** The answer of the password step of a staff login. */
type StaffLoginAnswer = Schemas["StaffLoginResponse"] | { mfa_required: true; mfa_token: string; expires_in: number };

export interface PlatformClient {
  /** Every route of openapi.yaml, typed: `api.GET("/v1/me")`, `api.POST("/v1/customers/search", {body})`. */
  api: Client<paths>;
  store: SessionStore;
  /** Sends a one-time code by SMS; resolves to the local stack's `dev_code` when it echoes one. */
  requestCode(phone: string): Promise<string | undefined>;
  /** Signs a customer up or in with the code; keeps the session. */
  signInWithCode(login: Schemas["LoginRequest"]): Promise<Schemas["LoginResponse"]>;
  /** Opens a guest cart (kept in the store) for a visitor who has not signed in. */
  startGuestCart(): Promise<string>;
  /** Moves the guest cart into the signed-in customer's and forgets the guest token. */
  migrateGuestCart(): Promise<Schemas["Cart"]>;
  /** Staff login: the password, then (when the member has two factors) a code from `secondFactor`. */
  signInStaff(email: string, password: string, secondFactor?: () => Promise<string>): Promise<Schemas["StaffLoginResponse"]>;
  /** Revokes the session on the server and forgets it here. */
  signOut(): Promise<void>;
}

export function createPlatformClient(options: PlatformClientOptions): PlatformClient {
  const store = options.store ?? new MemorySessionStore();
  const fetchImpl = options.fetch ?? globalThis.fetch;
  const api = createClient<paths>({ baseUrl: options.baseUrl, fetch: fetchImpl });
  const refresher = new Refresher(options.baseUrl, store, fetchImpl, options.onSignedOut);
  api.use(sessionMiddleware(store, refresher, fetchImpl));

  const keepSession = (tokens: Schemas["Tokens"]) =>
    store.setSession({ accessToken: tokens.access_token, refreshToken: tokens.refresh_token });

  return {
    api,
    store,
    async requestCode(phone) {
      const { data, error, response } = await api.POST("/v1/auth/otp", { body: { phone } });
      if (!data) throw new ApiError(response.status, error);
      return data.dev_code;
    },
    async signInWithCode(login) {
      const { data, error, response } = await api.POST("/v1/auth/login", { body: login });
      if (!data) throw new ApiError(response.status, error);
      keepSession(data);
      return data;
    },
    async startGuestCart() {
      const { data, error, response } = await api.POST("/v1/cart/guest");
      if (!data) throw new ApiError(response.status, error);
      store.setGuestToken(data.guest_token);
      return data.guest_token;
    },
    async migrateGuestCart() {
      const guestToken = store.guestToken();
      if (!guestToken) throw new Error("no guest cart to move");
      const { data, error, response } = await api.POST("/v1/cart/migrate", { body: { guest_token: guestToken } });
      if (!data) throw new ApiError(response.status, error);
      store.setGuestToken(undefined);
      return data;
    },
    async signInStaff(email, password, secondFactor) {
      const first = await postJson<StaffLoginAnswer>(fetchImpl, options.baseUrl, "/v1/auth/staff/login", { email, password });
      if (!("mfa_required" in first)) {
        keepSession(first);
        return first;
      }
      if (!secondFactor) throw new Error("this account has two factors on: pass secondFactor");
      const code = await secondFactor();
      const second = await postJson<Schemas["StaffLoginResponse"]>(fetchImpl, options.baseUrl, "/v1/auth/staff/login/mfa", {
        mfa_token: first.mfa_token,
        code,
      });
      keepSession(second);
      return second;
    },
    async signOut() {
      if (store.session()) await api.POST("/v1/auth/logout");
      store.setSession(undefined);
    },
  };
}

/** POSTs JSON to a route whose answers the generated types cannot tell apart by status alone
 * (the staff login answers 200 either with tokens or with the second step). */
async function postJson<T>(fetchImpl: typeof fetch, baseUrl: string, path: string, body: unknown): Promise<T> {
  const response = await fetchImpl(new URL(path, baseUrl), {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const parsed: unknown = await response.json().catch(() => undefined);
  if (!response.ok) throw new ApiError(response.status, parsed as Problem | undefined);
  return parsed as T;
}

/** One refresh at a time: calls that find the access token expired together wait for the
 * same rotation, since a refresh token works once (a replay outside the grace window would
 * revoke the whole session). */
class Refresher {
  #running: Promise<Session | undefined> | undefined;

  constructor(
    private readonly baseUrl: string,
    private readonly store: SessionStore,
    private readonly fetchImpl: typeof fetch,
    private readonly onSignedOut: (() => void) | undefined,
  ) {}

  /** New tokens for the session that `staleAccessToken` belonged to, or `undefined` when the
   * session is over (the user must sign in again). */
  refresh(staleAccessToken: string): Promise<Session | undefined> {
    const current = this.store.session();
    if (current && current.accessToken !== staleAccessToken) return Promise.resolve(current);
    this.#running ??= this.#rotate().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  async #rotate(): Promise<Session | undefined> {
    const session = this.store.session();
    if (!session) return undefined;
    const response = await this.fetchImpl(new URL("/v1/auth/refresh", this.baseUrl), {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ refresh_token: session.refreshToken }),
    });
    if (!response.ok) {
      this.store.setSession(undefined);
      this.onSignedOut?.();
      return undefined;
    }
    const tokens = (await response.json()) as Schemas["Tokens"];
    const rotated = { accessToken: tokens.access_token, refreshToken: tokens.refresh_token };
    this.store.setSession(rotated);
    return rotated;
  }
}

/** The access token (or, before sign-in, the guest token) on every call; a 401 on a call that
 * carried an access token refreshes the session and retries that call once. */
function sessionMiddleware(store: SessionStore, refresher: Refresher, fetchImpl: typeof fetch): Middleware {
  const retries = new Map<string, Request>();
  return {
    onRequest({ request, id }) {
      const session = store.session();
      const guest = store.guestToken();
      if (session && !request.headers.has("authorization")) {
        request.headers.set("authorization", `Bearer ${session.accessToken}`);
        retries.set(id, request.clone());
      } else if (guest && !request.headers.has("x-guest-token")) {
        request.headers.set("x-guest-token", guest);
      }
      return request;
    },
    async onResponse({ response, id }) {
      const original = retries.get(id);
      retries.delete(id);
      if (response.status !== 401 || !original) return response;
      const stale = original.headers.get("authorization")?.replace(/^Bearer /, "") ?? "";
      const renewed = await refresher.refresh(stale);
      if (!renewed) return response;
      original.headers.set("authorization", `Bearer ${renewed.accessToken}`);
      return fetchImpl(original);
    },
    onError({ id }) {
      retries.delete(id);
    },
  };
}
