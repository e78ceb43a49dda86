// The masto client (npm `masto`) against a Likewise instance, with a token: what an app does
// after logging in. Prints one JSON object: what each call answered, or the error it met.
import { createRestAPIClient } from "masto";

const [url, accessToken] = process.argv.slice(2);
const masto = createRestAPIClient({ url, accessToken });
const results = {};

async function step(name, call) {
  try {
    results[name] = { ok: true, value: await call() };
  } catch (error) {
    results[name] = { ok: false, error: String(error?.message ?? error) };
  }
  return results[name].ok ? results[name].value : undefined;
}

await step("v2_instance", async () => {
  const instance = await masto.v2.instance.fetch();
  return { domain: instance.domain, version: instance.version };
});
await step("v1_instance", async () => {
  const instance = await masto.v1.instance.fetch();
  return { uri: instance.uri, version: instance.version };
});
await step("verify_credentials", async () => {
  const me = await masto.v1.accounts.verifyCredentials();
  return { username: me.username, id: me.id };
});
const posted = await step("post", async () => {
  const status = await masto.v1.statuses.create({ status: "hello from masto" });
  return { id: status.id, content: status.content };
});
await step("home", async () => {
  const statuses = await masto.v1.timelines.home.list();
  return statuses.map((status) => status.id);
});
if (posted) {
  await step("favourite", async () => {
    const status = await masto.v1.statuses.$select(posted.id).favourite();
    return { favourited: status.favourited, favourites_count: status.favouritesCount };
  });
  await step("unfavourite", async () => {
    const status = await masto.v1.statuses.$select(posted.id).unfavourite();
    return { favourited: status.favourited, favourites_count: status.favouritesCount };
  });
}
process.stdout.write(JSON.stringify(results));
