// The daemon's web console (served by tvisor serve at /): the console page on the daemon's API.
import './style.css';
import { Api } from './api.js';
import { ConsolePage } from './page.js';

void new ConsolePage(document.getElementById('app')!, Api.fromPage(), { title: 'tvisor' }).reload();
