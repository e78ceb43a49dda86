// The megalodon client (npm `megalodon`) against a Likewise instance, with a token: its
// server detection, then what an app does after logging in. Prints one JSON object: what
// each call answered, or the error it met.
import generator, { detector } from "megalodon";

const [url, accessToken] = process.argv.slice(2);
const results = {};

async function step(name, call) {
  try {
    results[name] = { ok: true, value: await call() };
  } catch (error) {
    results[name] = { ok: false, error: String(error?.message ?? error) };
  }
  return results[name].ok ? results[name].value : undefined;
}

await step("detector", () => detector(url));
const client = generator("mastodon", url, accessToken);
await step("instance", async () => {
  const { data } = await client.getInstance();
  return { uri: data.uri, version: data.version };
});
await step("verify_credentials", async () => {
  const { data } = await client.verifyAccountCredentials();
  return { username: data.username, id: data.id };
});
const posted = await step("post", async () => {
  const { data } = await client.postStatus("hello from megalodon");
  return { id: data.id, content: data.content };
});
await step("home", async () => {
  const { data } = await client.getHomeTimeline();
  return data.map((status) => status.id);
});
if (posted) {
  await step("favourite", async () => {
    const { data } = await client.favouriteStatus(posted.id);
    return { favourited: data.favourited, favourites_count: data.favourites_count };
  });
}
process.stdout.write(JSON.stringify(results));
