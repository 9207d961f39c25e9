import { openDatabase } from "@/lib/db/database";

// `npm run db:migrate`: bring the schema up to date (the start command does this too).
const db = await openDatabase({ log: (line) => console.log(line) });
console.log("database is up to date");
await db.close();
