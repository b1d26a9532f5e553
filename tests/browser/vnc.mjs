// vnc.mjs: noVNC (npm @novnc/novnc) in Debian's headless Chromium, driven by
// playwright-core, as a VNC client for tests/vnc-browser.sh. It serves
// vnc.html and noVNC's core/ from a loopback HTTP server of its own, opens
// the page, then runs a script of steps, one per argument or, without any,
// one per line of standard input (as tests/vnc-client.c does):
//
//   connect PORT [MS]      noVNC's RFB to ws://127.0.0.1:PORT (our VNC
//                          port: libvncserver takes WebSocket there), until
//                          its connect event; waits for the port to open
//   disconnect             until noVNC's disconnect event
//   password FILE|none     what later connects answer credentialsrequired
//                          with: sendCredentials({password}), the file's
//                          first line (none: no answer, a failed step)
//   lossless on|off        later connects leave the JPEG quality level out
//                          of noVNC's encodings (see vnc.html)
//   wait-size W H [MS]     until the canvas is W x H
//   wait-update [MS]       until the canvas has not changed for 300 ms
//   save FILE.ppm          the canvas's pixels (getImageData) as a P6 PPM
//   screenshot FILE.png    the page as Chromium shows it
//   sizes                  prints "sizes WxH WxH ...": every size the
//                          canvas took since connect, in order
//   key KEY                Playwright presses KEY (its names: Escape,
//                          Enter, a, Shift+4) on the page, the canvas
//                          focused
//   type TEXT              Playwright types TEXT ("\n" is Enter), Shift
//                          held for the characters a US keyboard shifts
//   move X Y               the mouse to (X, Y) on the guest's screen
//   down|up [BUTTON]       a mouse button (left, middle, right)
//   wheel DY               turns the wheel by DY pixels (noVNC: one step
//                          per 50, negative is up)
//   sleep MS
//   echo TEXT              prints TEXT
//
// Options: --password-file FILE and --lossless: the password and lossless
// steps before the first.
// It prints "ready" once the page is loaded (a script may start its VM
// then), and every event of noVNC's RFB as it comes ("event ...").
//
// Exit: 0 every step done, 1 a step failed, 2 usage, 3 no connection or
// the server broke it off, 4 securityfailure (or credentialsrequired with
// no password to send), 5 Chromium or the page did not start.
import { createServer } from 'node:http';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, normalize } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const novnc = join(here, 'node_modules', '@novnc', 'novnc');
const chromiumPath = process.env.GH_CHROMIUM || '/usr/bin/chromium';
const DEFAULT_MS = 10000;

class StepError extends Error {
	constructor(msg, code = 1) {
		super(msg);
		this.code = code;
	}
}

function usage() {
	console.error('usage: vnc.mjs [--password-file FILE] [--lossless] ' +
		      '[STEP...]');
	process.exit(2);
}

// The page and noVNC's files; nothing else, and only on loopback.
function serve() {
	const types = { '.html': 'text/html', '.js': 'text/javascript' };
	const server = createServer(async (req, res) => {
		const path = normalize(decodeURIComponent(
			new URL(req.url, 'http://x').pathname));
		let file = null;
		if (path === '/' || path === '/vnc.html')
			file = join(here, 'vnc.html');
		else if (path.startsWith('/novnc/'))
			file = join(novnc, path.slice('/novnc/'.length));
		const type = file && types[file.slice(file.lastIndexOf('.'))];
		if (!type || !file.startsWith(here)) {
			res.writeHead(404).end();
			return;
		}
		try {
			const body = await readFile(file);
			res.writeHead(200, { 'Content-Type': type }).end(body);
		} catch {
			res.writeHead(404).end();
		}
	});
	return new Promise((resolve, reject) => {
		server.once('error', reject);
		server.listen(0, '127.0.0.1', () => resolve(server));
	});
}

function portOpen(port) {
	return new Promise((resolve) => {
		const s = createConnection({ host: '127.0.0.1', port });
		s.once('connect', () => { s.destroy(); resolve(true); });
		s.once('error', () => resolve(false));
	});
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function firstLine(file) {
	return readFileSync(file, 'utf8').split('\n')[0];
}

function ms(arg) {
	return arg === undefined ? DEFAULT_MS : Number(arg);
}

// Splits a step into words; "quoted text" is one word, with \n in it
function words(line) {
	const out = [];
	const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
	let m;
	while ((m = re.exec(line)))
		out.push(m[1] !== undefined ?
			 m[1].replace(/\\n/g, '\n').replace(/\\(.)/g, '$1') :
			 m[2]);
	return out;
}

async function main(argv) {
	let password = null;
	let lossless = false;
	while (argv.length && argv[0].startsWith('--')) {
		const opt = argv.shift();
		if (opt === '--password-file' && argv.length)
			password = firstLine(argv.shift());
		else if (opt === '--lossless')
			lossless = true;
		else
			usage();
	}

	let chromium;
	try {
		({ chromium } = await import('playwright-core'));
	} catch (e) {
		throw new StepError('no playwright-core: ' + e.message, 5);
	}
	const server = await serve();
	const profile = mkdtempSync(join(tmpdir(), 'gh-chromium.'));
	let browser = null;
	try {
		// a new, empty profile; the flags keep Chromium off the network
		// (this machine has none)
		browser = await chromium.launchPersistentContext(profile, {
			executablePath: chromiumPath,
			headless: true,
			viewport: { width: 1280, height: 900 },
			args: ['--no-sandbox', '--disable-gpu', '--disable-quic',
			       '--no-first-run', '--disable-background-networking',
			       '--disable-component-update', '--disable-sync'],
		}).catch((e) => {
			throw new StepError('Chromium did not start: ' +
					    e.message.split('\n')[0], 5);
		});
		const page = browser.pages()[0] || await browser.newPage();
		page.on('pageerror', (e) => console.log('page error: ' + e));
		page.on('console', (m) => {
			if (m.type() === 'error')
				console.log('console ' + m.type() + ': ' +
					    m.text());
		});
		await page.goto('http://127.0.0.1:' + server.address().port +
				'/vnc.html');
		await page.waitForFunction(() => window.ghReady === true,
					   null, { timeout: 20000 })
			.catch(() => {
				throw new StepError('the page did not load ' +
						    'noVNC', 5);
			});
		// for scripts that start the VM once the browser is there
		console.log('ready');
		const client = new Client(page, password, lossless);
		const steps = argv.length ? argv :
			createInterface({ input: process.stdin });
		for await (const line of steps) {
			if (line.trim())
				await client.step(words(line));
		}
		await client.printEvents();
	} finally {
		if (browser)
			await browser.close().catch(() => {});
		server.close();
		rmSync(profile, { recursive: true, force: true });
	}
}

class Client {
	constructor(page, password, lossless) {
		this.page = page;
		this.password = password;
		this.lossless = lossless;
		this.printed = 0;
		this.mouse = { x: 0, y: 0 };
	}

	// prints the RFB events not printed yet; fails as the exit codes say
	// when the connection was refused or lost
	async printEvents() {
		const { events, state } = await this.page.evaluate(
			() => ({ events: window.gh.events, state: window.gh.state }));
		for (; this.printed < events.length; this.printed++)
			console.log('event ' + events[this.printed]);
		if (state === 'refused')
			throw new StepError('the server refused the ' +
					    'authentication', 4);
		if (state === 'disconnected')
			throw new StepError('the server broke the connection ' +
					    'off', 3);
		return { events, state };
	}

	// until fn (run in the page) is true, the events printed
	async until(fn, arg, timeout, what) {
		const end = Date.now() + timeout;
		for (;;) {
			const st = await this.printEvents();
			if (st.state === 'new' && this.password === null &&
			    st.events.some((e) => e.startsWith('credentials')))
				throw new StepError('the server wants a ' +
						    'password and none was ' +
						    'given', 4);
			if (await this.page.evaluate(fn, arg))
				return;
			if (Date.now() >= end)
				throw new StepError('timed out: ' + what);
			await sleep(50);
		}
	}

	// the canvas's position on the page: noVNC centers it (margin auto)
	async origin() {
		const box = await this.page.locator('#screen canvas')
			.boundingBox();
		if (!box)
			throw new StepError('no canvas');
		return box;
	}

	async step(w) {
		const [cmd, ...a] = w;
		const page = this.page;

		switch (cmd) {
		case 'connect': {
			const port = Number(a[0]);
			const end = Date.now() + ms(a[1]);
			if (!(port > 0 && port < 65536))
				throw new StepError('connect: bad port ' + a[0], 2);
			while (!(await portOpen(port))) {
				if (Date.now() >= end)
					throw new StepError('nothing listens on ' +
							    port, 3);
				await sleep(20);
			}
			await page.evaluate(([url, pw, ll]) =>
				window.gh.connect(url, pw, ll),
				['ws://127.0.0.1:' + port, this.password,
				 this.lossless]);
			await this.until(() => window.gh.state === 'connected',
					 null, end - Date.now(), 'connect');
			break;
		}
		case 'disconnect':
			await page.evaluate(() => window.gh.disconnect());
			await this.until(() => window.gh.state === 'closed',
					 null, DEFAULT_MS, 'disconnect');
			break;
		case 'password':
			this.password = a[0] === 'none' ? null : firstLine(a[0]);
			break;
		case 'lossless':
			this.lossless = a[0] === 'on';
			break;
		case 'wait-size': {
			const want = a[0] + 'x' + a[1];
			await this.until((s) => {
				const c = window.gh.canvas;
				return c && c.width + 'x' + c.height === s;
			}, want, ms(a[2]), 'the canvas at ' + want);
			break;
		}
		case 'wait-update': {
			// still: the same pixels twice, 300 ms apart
			const end = Date.now() + ms(a[0]);
			let last = null;
			for (;;) {
				await this.printEvents();
				const px = await page.evaluate(() =>
					window.gh.canvas.width ?
					window.gh.pixels().rgb : null);
				if (px && px === last)
					break;
				if (Date.now() >= end)
					throw new StepError('timed out: the ' +
							    'canvas never still');
				last = px;
				await sleep(300);
			}
			break;
		}
		case 'save': {
			const p = await page.evaluate(() => window.gh.pixels());
			if (!p.opaque)
				console.log('save: the canvas has transparent ' +
					    'pixels');
			const head = Buffer.from('P6\n' + p.w + ' ' + p.h +
						 '\n255\n');
			writeFileSync(a[0], Buffer.concat(
				[head, Buffer.from(p.rgb, 'base64')]));
			console.log('saved ' + p.w + 'x' + p.h + ' ' + a[0]);
			break;
		}
		case 'screenshot':
			await page.screenshot({ path: a[0] });
			break;
		case 'sizes':
			console.log('sizes ' + (await page.evaluate(
				() => window.gh.sizes.join(' '))));
			break;
		case 'key':
			await page.locator('#screen canvas').focus();
			await page.keyboard.press(a[0]);
			break;
		case 'type':
			// as a person on a US keyboard: Shift held for the
			// shifted characters, as the server's XT codes (QEMU's
			// extended key events) need
			await page.locator('#screen canvas').focus();
			for (const ch of a.join(' ')) {
				const shift = /[A-Z~!@#$%^&*()_+{}|:"<>?]/.test(ch);
				if (shift)
					await page.keyboard.down('Shift');
				await page.keyboard.press(ch === '\n' ?
							  'Enter' : ch);
				if (shift)
					await page.keyboard.up('Shift');
			}
			break;
		case 'move': {
			const box = await this.origin();
			await page.mouse.move(box.x + Number(a[0]) + 0.5,
					      box.y + Number(a[1]) + 0.5);
			break;
		}
		case 'down':
		case 'up':
			await page.mouse[cmd]({ button: a[0] || 'left' });
			break;
		case 'wheel':
			await page.mouse.wheel(0, Number(a[0]));
			break;
		case 'echo':
			console.log(a.join(' '));
			break;
		case 'sleep':
			await sleep(Number(a[0]));
			break;
		default:
			throw new StepError('unknown step: ' + w.join(' '), 2);
		}
		await this.printEvents();
	}
}

main(process.argv.slice(2)).then(() => process.exit(0), (e) => {
	console.log('vnc.mjs: ' + e.message);
	process.exit(e instanceof StepError ? e.code : 1);
});
