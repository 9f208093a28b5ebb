import { render } from 'preact'
import { App } from './App.tsx'
import { unlockAudioOnGesture } from './sound.ts'
import './styles.css'
import './reports.css'

unlockAudioOnGesture()
render(<App />, document.getElementById('app') as HTMLElement)
