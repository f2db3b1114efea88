// The client against a running local stack (API_BASE; scripts/client-test starts one): what an
// app does with it, through the real routes. The local stack echoes one-time codes as
// `dev_code` and has an admin from LOCAL_ADMIN_EMAIL / LOCAL_ADMIN_PASSWORD.
import assert from "node:assert/strict";
import { test } from "node:test";

import { ApiError, createPlatformClient, type PlatformClient } from "../src/index.js";

const baseUrl = process.env.API_BASE ?? "http://127.0.0.1:3000";
const adminEmail = process.env.LOCAL_ADMIN_EMAIL ?? "admin@example.com";
const adminPassword = process.env.LOCAL_ADMIN_PASSWORD ?? "local-admin-password";

/** A Zambian mobile number no other run uses (the local stack's default region is ZM). */
function newPhone(): string {
  return `+26097${String(Math.floor(Math.random() * 1e7)).padStart(7, "0")}`;
}

async function signedUpCustomer(name: string): Promise<PlatformClient> {
  const client = createPlatformClient({ baseUrl });
  const phone = newPhone();
  const code = await client.requestCode(phone);
  assert.ok(code, "the local stack echoes the code");
  const login = await client.signInWithCode({ phone, code, name, device_name: "client test" });
  assert.equal(login.created, true);
  return client;
}

test("a customer signs up by code and reads their own profile", async () => {
  const client = await signedUpCustomer("Tessa Typed");
  const { data, response } = await client.api.GET("/v1/me");
  assert.equal(response.status, 200);
  assert.equal(data?.first_name, "Tessa");
  assert.equal(data?.last_name, "Typed");
  assert.match(data?.customer_id ?? "", /^CUST_[0-9A-F]{8}$/);
});

test("a profile update with If-Match applies once and a stale version is 412", async () => {
  const client = await signedUpCustomer("Ivy Ifmatch");
  const read = await client.api.GET("/v1/me");
  const etag = read.response.headers.get("etag");
  assert.ok(etag, "the profile carries its version");
  const updated = await client.api.PATCH("/v1/me", { body: { city: "Lusaka" }, headers: { "if-match": etag } });
  assert.equal(updated.response.status, 200);
  assert.equal(updated.data?.city, "Lusaka");
  const stale = await client.api.PATCH("/v1/me", { body: { city: "Ndola" }, headers: { "if-match": etag } });
  assert.equal(stale.response.status, 412);
  assert.equal(stale.error?.status, 412, "the error is the contract's problem details");
  assert.equal((await client.api.GET("/v1/me")).data?.city, "Lusaka");
});

test("an expired access token is refreshed with rotation, once for calls racing", async () => {
  const client = await signedUpCustomer("Ray Refresh");
  const before = client.store.session();
  assert.ok(before);
  // A token the server refuses, as an expired one is: the client must rotate and retry.
  client.store.setSession({ ...before, accessToken: `${before.accessToken}x` });
  const answers = await Promise.all([client.api.GET("/v1/me"), client.api.GET("/v1/auth/sessions")]);
  for (const answer of answers) assert.equal(answer.response.status, 200);
  const after = client.store.session();
  assert.ok(after && after.refreshToken !== before.refreshToken, "the refresh token rotated");
  // Within the grace window the old refresh token answers with the session's current tokens
  // (two refreshes racing from one device must not log it out), never a second rotation.
  const replay = await client.api.POST("/v1/auth/refresh", { body: { refresh_token: before.refreshToken } });
  assert.equal(replay.data?.refresh_token, after.refreshToken);
});

test("a guest cart moves into the customer's cart at sign-in", async () => {
  const client = createPlatformClient({ baseUrl });
  await client.startGuestCart();
  const put = await client.api.PUT("/v1/cart/items/{product_id}", {
    params: { path: { product_id: "SKU-CLIENT-1" } },
    body: { quantity: 2, unit_price: 1500, name: "Mug" },
  });
  assert.equal(put.response.status, 200);
  const phone = newPhone();
  const code = await client.requestCode(phone);
  await client.signInWithCode({ phone, code: code ?? "", name: "Cara Cart" });
  const cart = await client.migrateGuestCart();
  assert.equal(cart.owner, "customer");
  assert.deepEqual(
    cart.items.map((item) => [item.product_id, item.quantity]),
    [["SKU-CLIENT-1", 2]],
  );
  assert.equal(client.store.guestToken(), undefined);
});

test("staff sign in and search customers", async () => {
  const customer = await signedUpCustomer("Sally Searchable");
  const me = (await customer.api.GET("/v1/me")).data;
  const staff = createPlatformClient({ baseUrl });
  const login = await staff.signInStaff(adminEmail, adminPassword);
  assert.equal(login.staff.role, "admin");
  const found = await staff.api.POST("/v1/customers/search", { body: { query: `sally ${me?.username}` } });
  assert.equal(found.response.status, 200);
  assert.equal(found.data?.total, 1);
  assert.equal(found.data?.total_exact, true);
  assert.equal(found.data?.items[0]?.customer_id, me?.customer_id);
  await assert.rejects(createPlatformClient({ baseUrl }).signInStaff(adminEmail, "not the password"), (err: unknown) => {
    return err instanceof ApiError && err.status === 401;
  });
});

test("a document is uploaded through its presigned URL and verified", async () => {
  const client = await signedUpCustomer("Dora Document");
  const pdf = new TextEncoder().encode("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n");
  const slot = await client.api.POST("/v1/media/uploads", {
    body: { filename: "terms.pdf", content_type: "application/pdf", size: pdf.byteLength, purpose: "document" },
  });
  assert.equal(slot.response.status, 201);
  assert.ok(slot.data);
  const uploaded = await fetch(slot.data.upload_url, {
    method: slot.data.upload_method,
    headers: slot.data.upload_headers,
    body: pdf,
  });
  assert.equal(uploaded.status, 200);
  const done = await client.api.POST("/v1/media/{media_id}/complete", {
    params: { path: { media_id: slot.data.media_id } },
  });
  assert.equal(done.response.status, 200);
  assert.equal(done.data?.status, "ready");
});
