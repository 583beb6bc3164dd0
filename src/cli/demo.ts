export async function demoCommand(_argv: string[]): Promise<number> { return 1; }
